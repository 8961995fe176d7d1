// farmd's HTTPS: the certificate (made once, reused, key 0600), a round trip with the pinned
// fingerprint through farmctl's client, a wrong pin refused before anything is sent, plain
// HTTP to the TLS port answered with a clear 400, and stalled handshakes cut off by the
// header deadline.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "farm/farmd/tls_cert.h"
#include "http_client.h"
#include "http_fixture.h"

namespace farm::farmd::testing {
namespace {

namespace fs = std::filesystem;

class HttpsTest : public HttpFixture {
 protected:
  void SetUp() override {
    HttpFixture::SetUp();
    auto pair = GenerateSelfSignedCertificate(RequestForHost("127.0.0.1"));
    ASSERT_TRUE(pair.ok()) << pair.status().ToString();
    pair_ = *pair;
  }

  std::unique_ptr<HttpServer> ServeTls(
      std::chrono::seconds header_timeout = std::chrono::seconds(10)) {
    HttpServerOptions options;
    options.tls = {true, pair_.cert_pem, pair_.key_pem};
    options.header_timeout = header_timeout;
    return Serve(options);
  }

  StatusOr<farmctl::HttpResponse> Get(const std::string& endpoint, const std::string& target,
                                      const std::string& fingerprint) {
    farmctl::HttpRequest request;
    request.target = target;
    request.token = "sesame";
    request.fingerprint = fingerprint;
    request.timeout = std::chrono::seconds(5);
    return farmctl::SendHttp(endpoint, request);
  }

  CertificatePair pair_;
};

TEST_F(HttpsTest, RoundTripWithThePinnedFingerprint) {
  auto server = ServeTls();
  ASSERT_TRUE(server);
  EXPECT_TRUE(server->tls());
  const std::string url = "https://" + server->endpoint();
  auto health = Get(url, "/healthz", pair_.fingerprint);
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->status, 200);
  EXPECT_NE(health->body.find("\"ok\":true"), std::string::npos) << health->body;
  // The token travels inside TLS and is checked as over plain HTTP; /metrics too.
  auto sweeps = Get(url, "/api/v1/sweeps", pair_.fingerprint);
  ASSERT_TRUE(sweeps.ok()) << sweeps.status().ToString();
  EXPECT_EQ(sweeps->status, 200) << sweeps->body;
  auto metrics = Get(url, "/metrics", pair_.fingerprint);
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_EQ(metrics->status, 200);
  // The pin as openssl prints it (upper case, colons) is the same pin.
  std::string openssl_form = "SHA256 Fingerprint=";
  const std::string hex = pair_.fingerprint.substr(7);
  for (std::size_t i = 0; i < hex.size(); i += 2)
    openssl_form += (i ? ":" : "") + std::string{static_cast<char>(std::toupper(hex[i])),
                                                 static_cast<char>(std::toupper(hex[i + 1]))};
  auto pasted = Get(url, "/healthz", openssl_form);
  ASSERT_TRUE(pasted.ok()) << pasted.status().ToString();
  EXPECT_EQ(pasted->status, 200);
}

TEST_F(HttpsTest, AWrongPinIsRefusedShowingBothFingerprints) {
  auto server = ServeTls();
  ASSERT_TRUE(server);
  auto other = GenerateSelfSignedCertificate(RequestForHost("127.0.0.1"));
  ASSERT_TRUE(other.ok());
  ASSERT_NE(other->fingerprint, pair_.fingerprint);
  auto refused = Get("https://" + server->endpoint(), "/api/v1/sweeps", other->fingerprint);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  const std::string message = refused.status().message();
  EXPECT_NE(message.find(pair_.fingerprint), std::string::npos) << message;
  EXPECT_NE(message.find(other->fingerprint), std::string::npos) << message;
  // No pin at all is a usage error, not a silent trust.
  auto unpinned = Get("https://" + server->endpoint(), "/healthz", "");
  ASSERT_FALSE(unpinned.ok());
  EXPECT_EQ(unpinned.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unpinned.status().message().find("--fingerprint"), std::string::npos);
}

TEST_F(HttpsTest, PlainHttpToTheTlsPortGetsAClear400AndHttpsToAPlainPortFails) {
  auto server = ServeTls();
  ASSERT_TRUE(server);
  const int fd = ConnectTcp(server->endpoint());
  ASSERT_GE(fd, 0);
  const std::string response =
      Exchange(fd, "GET /api/v1/sweeps HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  close(fd);
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << response;
  EXPECT_NE(response.find("https_required"), std::string::npos) << response;
  EXPECT_NE(response.find("https://"), std::string::npos) << response;

  auto plain = Serve(HttpServerOptions{});
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->tls());
  auto refused = Get("https://" + plain->endpoint(), "/healthz", pair_.fingerprint);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("TLS handshake"), std::string::npos)
      << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("http://" + plain->endpoint()), std::string::npos)
      << refused.status().ToString();
}

TEST_F(HttpsTest, StalledHandshakesAreCutOffByTheHeaderDeadline) {
  auto server = ServeTls(std::chrono::seconds(1));
  ASSERT_TRUE(server);
  // One says nothing; one stops inside its ClientHello (a TLS record header, no body).
  const int silent = ConnectTcp(server->endpoint());
  const int partial = ConnectTcp(server->endpoint());
  ASSERT_GE(silent, 0);
  ASSERT_GE(partial, 0);
  const char hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
  ASSERT_EQ(send(partial, hello_start, sizeof hello_start, MSG_NOSIGNAL),
            static_cast<ssize_t>(sizeof hello_start));
  const auto limit = std::chrono::milliseconds(4000);
  const auto silent_closed = TimeUntilClosed(silent, limit);
  const auto partial_closed = TimeUntilClosed(partial, limit);
  close(silent);
  close(partial);
  EXPECT_LT(silent_closed, limit) << "a client that never starts its handshake was kept";
  EXPECT_LT(partial_closed, limit) << "a half-sent ClientHello was kept";
  // Complete handshakes still work meanwhile.
  auto health = Get("https://" + server->endpoint(), "/healthz", pair_.fingerprint);
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(health->status, 200);
}

TEST(TlsCertTest, MadeOnceThenReusedKeyPrivateAndMismatchesRefused) {
  TempDir dir;
  const std::string cert = DefaultCertPath(dir.path().string());
  const std::string key = DefaultKeyPath(dir.path().string());
  EXPECT_EQ(cert, (dir.path() / "tls" / "farmd.crt").string());
  auto first = LoadOrCreateCertificate(cert, key, RequestForHost("127.0.0.1", {"farm.example"}));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->generated);
  struct stat key_stat {
  }, dir_stat{};
  ASSERT_EQ(stat(key.c_str(), &key_stat), 0);
  EXPECT_EQ(key_stat.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir.path() / "tls").c_str(), &dir_stat), 0);
  EXPECT_EQ(dir_stat.st_mode & 077, 0u) << "the tls folder is open to others";
  // No temp files left behind.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path() / "tls"))
    files += entry.is_regular_file();
  EXPECT_EQ(files, 2);

  auto second = LoadOrCreateCertificate(cert, key, RequestForHost("127.0.0.1"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->generated);
  EXPECT_EQ(second->fingerprint, first->fingerprint);
  EXPECT_EQ(second->key_pem, first->key_pem);
  auto shown = CertificateFingerprint(first->cert_pem);
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(*shown, first->fingerprint);

  // A key that belongs to another certificate is refused, naming both files.
  auto other = GenerateSelfSignedCertificate(RequestForHost("127.0.0.1"));
  ASSERT_TRUE(other.ok());
  std::ofstream(key, std::ios::trunc) << other->key_pem;
  auto mismatch = LoadOrCreateCertificate(cert, key, RequestForHost("127.0.0.1"));
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("does not belong"), std::string::npos)
      << mismatch.status().ToString();
  // A lone certificate is not silently replaced by a new pair.
  fs::remove(key);
  auto lone = LoadOrCreateCertificate(cert, key, RequestForHost("127.0.0.1"));
  ASSERT_FALSE(lone.ok());
  EXPECT_EQ(lone.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lone.status().message().find(key), std::string::npos) << lone.status().ToString();
}

TEST(TlsCertTest, CertificateNamesAndFingerprintForms) {
  auto pair = GenerateSelfSignedCertificate(RequestForHost("10.1.2.3", {"farm.example"}));
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_NE(pair->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(pair->key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  const CertificateRequest request = RequestForHost("10.1.2.3", {"farm.example", "192.0.2.7"});
  auto has = [](const std::vector<std::string>& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };
  EXPECT_TRUE(has(request.ip_addresses, "10.1.2.3"));
  EXPECT_TRUE(has(request.ip_addresses, "127.0.0.1"));
  EXPECT_TRUE(has(request.ip_addresses, "192.0.2.7"));
  EXPECT_TRUE(has(request.dns_names, "farm.example"));
  EXPECT_TRUE(has(request.dns_names, "localhost"));
  CertificateRequest bad;
  bad.ip_addresses = {"not-an-address"};
  EXPECT_EQ(GenerateSelfSignedCertificate(bad).status().code(), StatusCode::kInvalidArgument);

  const std::string hex(64, 'a');
  EXPECT_EQ(*NormalizeFingerprint("sha256:" + hex), "sha256:" + hex);
  EXPECT_EQ(*NormalizeFingerprint(std::string(64, 'A')), "sha256:" + hex);
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("AA");
  EXPECT_EQ(*NormalizeFingerprint("SHA256 Fingerprint=" + colons), "sha256:" + hex);
  auto short_pin = NormalizeFingerprint("sha256:abc");
  ASSERT_FALSE(short_pin.ok());
  EXPECT_NE(short_pin.status().message().find("sha256:abc"), std::string::npos);
  EXPECT_FALSE(NormalizeFingerprint("sha256:" + std::string(63, 'a') + "g").ok());
}

}  // namespace
}  // namespace farm::farmd::testing
