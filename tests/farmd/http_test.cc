// The HTTP API over loopback (port 0) with the loop running on its own thread: auth,
// malformed JSON, body limit, read vs admin tokens, slow and flooding clients, submit/list/cancel,
// metrics format, unknown routes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "farm/farmd/http_server.h"
#include "farm/schemas/sha256.h"
#include "farmd_test_util.h"

namespace farm::farmd::testing {
namespace {
using nlohmann::json;

struct Reply {
  int status = 0;
  std::string body;
  json Json() const { return json::parse(body, nullptr, false); }
};

// A minimal HTTP/1.1 client (one request per connection) so the test does not depend on
// the server's own library.
Reply Http(const std::string& endpoint, const std::string& method, const std::string& target,
           const std::string& body = "", const std::string& extra_headers = "") {
  const std::size_t colon = endpoint.rfind(':');
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &address.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  Reply reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    ADD_FAILURE() << "cannot connect to " << endpoint;
    return reply;
  }
  const std::string request =
      method + " " + target + " HTTP/1.1\r\nHost: test\r\n" +
      "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
      extra_headers + "\r\n" + body;
  (void)send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0)
    response.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  if (response.rfind("HTTP/1.1 ", 0) != 0) {
    ADD_FAILURE() << "no HTTP response: '" << response << "'";
    return reply;
  }
  reply.status = std::stoi(response.substr(9, 3));
  const std::size_t split = response.find("\r\n\r\n");
  if (split != std::string::npos) reply.body = response.substr(split + 4);
  return reply;
}

const std::string kAuth = "Authorization: Bearer sesame\r\n";
const std::string kJson = "Content-Type: application/json\r\n";

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "photos");
    std::ofstream(dir_.path() / "photos" / "a.jpg") << "not really a jpeg";
    auto store =
        store::Store::Open((dir_.path() / "farm.db").string(), store::OpenMode::kReadWrite);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    CoordinatorOptions options;
    options.artifact_root = (dir_.path() / "artifacts").string();
    auto coordinator = Coordinator::Create(options, *store_, link_, clock_);
    ASSERT_TRUE(coordinator.ok()) << coordinator.status().ToString();
    coordinator_ = std::move(*coordinator);
    HttpServerOptions http;
    http.max_body_bytes = 2048;
    http.api.tokens = {*MakeApiToken(TokenKind::kAdmin, "sesame"),
                       *MakeApiToken(TokenKind::kRead, "sha256:" + Sha256Hex("peek"))};
    http.api.spec_dir = dir_.path().string();
    auto server = HttpServer::Start(*coordinator_, http);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    loop_ = std::thread([this] { (void)coordinator_->Run(stop_); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    stop_ = true;
    if (loop_.joinable()) loop_.join();
  }
  std::string endpoint() const { return server_->endpoint(); }

  // Polls until `predicate` holds on GET `target` (the loop persists asynchronously).
  json WaitFor(const std::string& target, const std::function<bool(const json&)>& predicate) {
    json last;
    for (int i = 0; i < 200; ++i) {
      Reply reply = Http(endpoint(), "GET", target, "", kAuth);
      last = reply.Json();
      if (reply.status == 200 && predicate(last)) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "timed out waiting on " << target << ": " << last.dump();
    return last;
  }

  TempDir dir_;
  scheduler::SystemClock clock_;
  transport::InProcessAgentLink link_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

TEST_F(HttpTest, AuthIsRequiredExceptForHealthz) {
  EXPECT_EQ(Http(endpoint(), "GET", "/healthz").status, 200);
  EXPECT_EQ(Http(endpoint(), "GET", "/api/v1/sweeps").status, 401);
  EXPECT_EQ(
      Http(endpoint(), "GET", "/api/v1/sweeps", "", "Authorization: Bearer sesamE\r\n").status,
      401);
  EXPECT_EQ(Http(endpoint(), "GET", "/metrics").status, 401);
  EXPECT_EQ(Http(endpoint(), "GET", "/api/v1/sweeps", "", kAuth).status, 200);
}

TEST_F(HttpTest, ReadTokensMayOnlyGet) {
  const std::string read = "Authorization: Bearer peek\r\n";
  EXPECT_EQ(Http(endpoint(), "GET", "/api/v1/sweeps", "", read).status, 200);
  EXPECT_EQ(Http(endpoint(), "GET", "/api/v1/agents", "", read).status, 200);
  EXPECT_EQ(Http(endpoint(), "GET", "/metrics", "", read).status, 200);
  json request = {{"spec", SpecYaml(1)}, {"file_name", "t.yaml"}, {"synthetic", true}};
  Reply refused = Http(endpoint(), "POST", "/api/v1/sweeps", request.dump(), read + kJson);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.Json()["error"]["code"], "forbidden") << refused.body;
  EXPECT_NE(refused.body.find("admin token"), std::string::npos) << refused.body;
  EXPECT_EQ(Http(endpoint(), "POST", "/api/v1/jobs/1/cancel", "", read).status, 403);
  EXPECT_EQ(Http(endpoint(), "POST", "/api/v1/sweeps/1/priority", "{}", read + kJson).status, 403);
  // The digest itself is not a token.
  EXPECT_EQ(Http(endpoint(), "GET", "/api/v1/sweeps", "",
                 "Authorization: Bearer sha256:" + Sha256Hex("peek") + "\r\n")
                .status,
            401);
  // The admin token writes: the same submission is accepted.
  EXPECT_EQ(Http(endpoint(), "POST", "/api/v1/sweeps", request.dump(), kAuth + kJson).status, 201);
}

// /healthz round trip time from a fresh connection.
std::chrono::milliseconds TimeHealthz(const std::string& endpoint) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Http(endpoint, "GET", "/healthz").status, 200);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

int Connect(const std::string& endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
  inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &address.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST_F(HttpTest, SlowClientsAndBadTokenFloodsDoNotStallHealthz) {
  // A second listener on the same loop with a short I/O timeout, so that the trickling
  // client is also seen being cut off.
  HttpServerOptions options;
  // Longer than the healthz bound below, so a loop blocked by the trickle until the
  // timeout fails the bound; the bound leaves a loaded 2-core CI machine room.
  options.io_timeout = std::chrono::seconds(4);
  const auto start = std::chrono::steady_clock::now();
  auto quick = HttpServer::Start(*coordinator_, options);
  ASSERT_TRUE(quick.ok()) << quick.status().ToString();
  const std::string slow_endpoint = (*quick)->endpoint();

  std::atomic<bool> done{false};
  std::atomic<bool> slow_cut_off{false};
  // Headers one byte every 100 ms: never a complete request before the timeout.
  std::thread slow([&] {
    const int fd = Connect(slow_endpoint);
    ASSERT_GE(fd, 0);
    const std::string request =
        "GET /api/v1/sweeps HTTP/1.1\r\nHost: slow\r\nX-Pad: " + std::string(200, 'a') + "\r\n\r\n";
    for (char c : request) {
      if (done) break;
      if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
        slow_cut_off = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    close(fd);
  });
  std::thread flood([&] {
    for (int i = 0; i < 300 && !done; ++i) {
      EXPECT_EQ(Http(endpoint(), "GET", "/api/v1/sweeps", "",
                     "Authorization: Bearer wrong" + std::to_string(i) + "\r\n")
                    .status,
                401);
    }
  });
  std::chrono::milliseconds worst{0};
  for (int i = 0; i < 10; ++i) {
    worst = std::max(worst, TimeHealthz(endpoint()));
    worst = std::max(worst, TimeHealthz(slow_endpoint));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  EXPECT_LT(worst.count(), 2000) << "healthz stalled behind slow or flooding clients";
  // The trickle (24 s) outlives io_timeout (4 s) by far: the server closes it (the send fails).
  std::this_thread::sleep_until(start + std::chrono::milliseconds(5500));
  done = true;
  slow.join();
  flood.join();
  EXPECT_TRUE(slow_cut_off.load()) << "a client sending headers byte by byte was never cut off";
  (*quick)->Stop();
}

TEST(ApiTokensTest, ConstantTimeEqual) {
  EXPECT_TRUE(ConstantTimeEqual("sesame", "sesame"));
  EXPECT_TRUE(ConstantTimeEqual("", ""));
  EXPECT_FALSE(ConstantTimeEqual("sesame", "sesamE"));
  EXPECT_FALSE(ConstantTimeEqual("sesame", "sesame2"));
  EXPECT_FALSE(ConstantTimeEqual("sesame", ""));
}

TEST(ApiTokensTest, StoredHashedAndParsed) {
  auto plain = MakeApiToken(TokenKind::kAdmin, "sesame");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->sha256_hex, Sha256Hex("sesame"));
  EXPECT_EQ(plain->sha256_hex.find("sesame"), std::string::npos);
  auto hashed = MakeApiToken(TokenKind::kRead, "sha256:" + Sha256Hex("peek"));
  ASSERT_TRUE(hashed.ok()) << hashed.status().ToString();
  EXPECT_EQ(hashed->sha256_hex, Sha256Hex("peek"));
  EXPECT_FALSE(MakeApiToken(TokenKind::kAdmin, "sha256:abc").ok());
  EXPECT_FALSE(MakeApiToken(TokenKind::kAdmin, "").ok());
  EXPECT_FALSE(ParseTokenKind("root").ok());

  const std::vector<ApiToken> tokens = {*plain, *hashed};
  EXPECT_EQ(FindToken(tokens, "Bearer sesame"), &tokens[0]);
  EXPECT_EQ(FindToken(tokens, "Bearer peek"), &tokens[1]);
  EXPECT_EQ(FindToken(tokens, "Bearer peek "), nullptr);
  EXPECT_EQ(FindToken(tokens, "peek"), nullptr);
  EXPECT_EQ(FindToken(tokens, ""), nullptr);

  auto file = ParseTokensFile("# ci\nread sha256:" + Sha256Hex("ci") + "\n\nadmin  hunter2\r\n",
                              "tokens.txt");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_EQ(file->size(), 2u);
  EXPECT_EQ((*file)[0].kind, TokenKind::kRead);
  EXPECT_EQ((*file)[1].sha256_hex, Sha256Hex("hunter2"));
  auto bad = ParseTokensFile("read sha256:" + Sha256Hex("ci") + "\nowner x\n", "tokens.txt");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tokens.txt:2"), std::string::npos)
      << bad.status().message();
}

TEST_F(HttpTest, MalformedJsonOversizedBodiesAndUnknownRoutes) {
  Reply bad = Http(endpoint(), "POST", "/api/v1/sweeps", "{\"spec\": ", kAuth + kJson);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("parse"), std::string::npos) << bad.body;
  Reply wrong_type = Http(endpoint(), "POST", "/api/v1/sweeps", "{\"spec\": 3}", kAuth + kJson);
  EXPECT_EQ(wrong_type.status, 400);
  Reply big = Http(endpoint(), "POST", "/api/v1/sweeps", std::string(4096, 'x'), kAuth + kJson);
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Http(endpoint(), "GET", "/api/v1/nothing", "", kAuth).status, 404);
  EXPECT_EQ(Http(endpoint(), "GET", "/api/v1/sweeps/999", "", kAuth).status, 404);
  EXPECT_EQ(Http(endpoint(), "POST", "/api/v1/jobs/999/cancel", "", kAuth).status, 404);
  EXPECT_EQ(Http(endpoint(), "GET", "/api/v1/jobs?state=bogus", "", kAuth).status, 400);
  Reply bad_spec = Http(endpoint(), "POST", "/api/v1/sweeps", "name: [unclosed", kAuth);
  EXPECT_EQ(bad_spec.status, 400) << bad_spec.body;
}

TEST_F(HttpTest, SubmitListAndCancel) {
  json request = {{"spec", SpecYaml(3)}, {"file_name", "t.yaml"}, {"synthetic", true}};
  Reply submitted = Http(endpoint(), "POST", "/api/v1/sweeps", request.dump(), kAuth + kJson);
  ASSERT_EQ(submitted.status, 201) << submitted.body;
  const std::int64_t id = submitted.Json()["sweep_id"].get<std::int64_t>();
  EXPECT_EQ(submitted.Json()["jobs_created"].get<int>(), 3);

  json sweeps = Http(endpoint(), "GET", "/api/v1/sweeps", "", kAuth).Json();
  ASSERT_EQ(sweeps["sweeps"].size(), 1u);
  EXPECT_EQ(sweeps["sweeps"][0]["id"].get<std::int64_t>(), id);
  json sweep = Http(endpoint(), "GET", "/api/v1/sweeps/" + std::to_string(id), "", kAuth).Json();
  EXPECT_EQ(sweep["jobs"]["queued"].get<int>(), 3);
  json jobs = Http(endpoint(), "GET", "/api/v1/jobs?sweep=" + std::to_string(id) + "&state=queued",
                   "", kAuth)
                  .Json();
  ASSERT_EQ(jobs["jobs"].size(), 3u);
  EXPECT_EQ(jobs["jobs"][0]["kind"], "synthetic");
  const std::int64_t first_job = jobs["jobs"][0]["id"].get<std::int64_t>();

  EXPECT_EQ(
      Http(endpoint(), "POST", "/api/v1/jobs/" + std::to_string(first_job) + "/cancel", "", kAuth)
          .status,
      200);
  WaitFor("/api/v1/sweeps/" + std::to_string(id),
          [](const json& s) { return s["jobs"]["cancelled"] == 1; });
  EXPECT_EQ(Http(endpoint(), "POST", "/api/v1/sweeps/" + std::to_string(id) + "/cancel", "", kAuth)
                .status,
            200);
  json done = WaitFor("/api/v1/sweeps/" + std::to_string(id),
                      [](const json& s) { return s["jobs"]["cancelled"] == 3; });
  EXPECT_EQ(done["state"], "cancelled");
  EXPECT_EQ(Http(endpoint(), "GET", "/api/v1/agents", "", kAuth).Json()["agents"].size(), 0u);
}

TEST_F(HttpTest, MetricsAreValidPrometheusText) {
  Reply metrics = Http(endpoint(), "GET", "/metrics", "", kAuth);
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("# TYPE farm_queue_depth gauge\nfarm_queue_depth 0\n"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("# TYPE farm_jobs_completed_total counter"), std::string::npos);
  EXPECT_NE(metrics.body.find("farm_link_messages_total{kind=\"sent\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("farm_store_wal_checkpoints_total{by=\"thread\"} "), std::string::npos);
  EXPECT_NE(metrics.body.find("farm_store_wal_checkpoint_failures_total 0\n"), std::string::npos);
  // Every sample line is `name{labels} value`.
  const std::regex sample(R"(^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$)");
  std::istringstream lines(metrics.body);
  int samples = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 10);
}

}  // namespace
}  // namespace farm::farmd::testing
