// farmctl and farmd over HTTPS, as an operator runs them: `farmctl init` makes the
// certificate and pins it, farmd reuses it, farmctl verbs pin it (flag or known farms file),
// a wrong pin and plain HTTP to the TLS port fail clearly; farmd's tokens stay out of its
// command line (environment, stdin; a plain --token is scrubbed and warned about); plain
// HTTP off loopback needs --allow-plain-http.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shell_run.h"

namespace {

namespace fs = std::filesystem;
using farmctl_test::CliRun;
using farmctl_test::ParseOrFail;
using farmctl_test::Shell;
using nlohmann::json;

constexpr char kToken[] = "https-token";

class FarmctlHttpsTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) /
           ("farmctl_https_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "state");
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string Db() const { return (dir_ / "state" / "farm.db").string(); }
  std::string KnownFarms() const { return (dir_ / "known_farms").string(); }

  // farmctl ARGS with the test's database and known farms file; stderr merged.
  CliRun Farmctl(const std::string& args) const {
    return Shell("cd '" + dir_.string() +
                 "' && STUDIOFARM_ENDPOINT= STUDIOFARM_FINGERPRINT= "
                 "STUDIOFARM_KNOWN_FARMS='" +
                 KnownFarms() + "' '" FARMCTL_PATH "' " + args + " --db '" + Db() + "' 2>&1");
  }

  // Runs `command` (a shell line ending in farmd's invocation, exec'd) and reads farmd's
  // ready line; fails the test when none comes.
  json StartFarmd(const std::string& command) {
    int fds[2];
    if (::pipe(fds) != 0) return json();
    const pid_t pid = farmctl_test::SpawnWithLog({"/bin/sh", "-c", command}, fds[1], Log());
    ::close(fds[1]);
    if (pid > 0) {
      children_.push_back(pid);
      pid_ = pid;
    }
    std::string line;
    char ch;
    while (pid > 0 && ::read(fds[0], &ch, 1) == 1 && ch != '\n') line += ch;
    ::close(fds[0]);
    json ready = json::parse(line, nullptr, false);
    EXPECT_TRUE(ready.is_object() && ready.contains("http")) << "no ready line: '" << line << "'\n"
                                                             << FarmdLog();
    return ready.is_object() ? ready : json();
  }

  std::string FarmdCommand(const std::string& flags) const {
    return "exec '" FARMD_PATH "' --no-curve --db '" + Db() + "' --artifacts '" +
           (dir_ / "state" / "artifacts").string() +
           "' --listen-agents tcp://127.0.0.1:0 --listen-http 127.0.0.1:0 " + flags;
  }

  std::string Log() const { return (dir_ / "farmd.log").string(); }
  std::string FarmdLog() const { return "\nfarmd log:\n" + farmctl_test::FileBytes(Log()); }

  std::string Cmdline() const {
    std::string text = farmctl_test::FileBytes("/proc/" + std::to_string(pid_) + "/cmdline");
    for (char& c : text) c = c == '\0' ? ' ' : c;
    return text;
  }

  fs::path dir_;
  std::vector<pid_t> children_;
  pid_t pid_ = 0;
};

TEST_F(FarmctlHttpsTest, InitPinsTheCertificateFarmdReusesAndVerbsCheck) {
  CliRun init = Farmctl("init --listen 127.0.0.1:0 --json");
  ASSERT_EQ(init.exit_code, 0) << init.out;
  const json made = ParseOrFail(init);
  const std::string fingerprint = made.value("fingerprint", "");
  ASSERT_EQ(fingerprint.rfind("sha256:", 0), 0u) << made.dump();
  EXPECT_TRUE(made.value("generated", false));
  // Again: the same certificate, not a new one.
  CliRun again = Farmctl("init --listen 127.0.0.1:0 --json");
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_FALSE(ParseOrFail(again).value("generated", true));
  EXPECT_EQ(ParseOrFail(again).value("fingerprint", ""), fingerprint);
  CliRun shown = Farmctl("cert show --json");
  ASSERT_EQ(shown.exit_code, 0) << shown.out;
  EXPECT_EQ(ParseOrFail(shown).value("fingerprint", ""), fingerprint);
  CliRun plain_show = Farmctl("cert show");
  EXPECT_EQ(plain_show.out, fingerprint + "\n");
  const std::string known = farmctl_test::FileBytes(KnownFarms());
  EXPECT_NE(known.find("127.0.0.1 " + fingerprint), std::string::npos) << known;

  // The admin token from the environment: nothing secret on farmd's command line.
  const json ready =
      StartFarmd("FARMD_TOKEN=" + std::string(kToken) + " " + FarmdCommand("--http-tls on"));
  ASSERT_TRUE(ready.is_object());
  EXPECT_EQ(ready.value("tls_fingerprint", ""), fingerprint) << "farmd made a new certificate";
  const std::string url = ready.value("http_url", "");
  ASSERT_EQ(url, "https://" + ready.value("http", "")) << ready.dump();
  EXPECT_EQ(Cmdline().find(kToken), std::string::npos) << Cmdline();
  EXPECT_NE(farmctl_test::FileBytes(Log()).find(fingerprint), std::string::npos)
      << "farmd does not log its fingerprint" << FarmdLog();

  const std::string token = std::string(" --token ") + kToken;
  CliRun pinned = Farmctl("status --endpoint " + url + " --fingerprint " + fingerprint + token);
  EXPECT_EQ(pinned.exit_code, 0) << pinned.out;
  // From the known farms file written by init.
  CliRun known_pin = Farmctl("agents --endpoint " + url + token + " --json");
  EXPECT_EQ(known_pin.exit_code, 0) << known_pin.out;
  // An entry for HOST:PORT wins over one for HOST; a malformed line is named.
  const std::string host_port = ready.value("http", "");
  const std::string wrong_pin = "sha256:" + std::string(64, 'f');
  std::ofstream(KnownFarms(), std::ios::trunc) << "127.0.0.1 " << wrong_pin << "\n"
                                               << host_port << " " << fingerprint << "\n";
  EXPECT_EQ(Farmctl("status --endpoint " + url + token).exit_code, 0);
  std::ofstream(KnownFarms(), std::ios::trunc) << "127.0.0.1 " << fingerprint << "\n"
                                               << host_port << " " << wrong_pin << "\n";
  CliRun by_port = Farmctl("status --endpoint " + url + token);
  EXPECT_EQ(by_port.exit_code, 1) << by_port.out;
  EXPECT_NE(by_port.out.find(wrong_pin), std::string::npos) << by_port.out;
  std::ofstream(KnownFarms(), std::ios::trunc) << "# pins\n127.0.0.1\n";
  CliRun malformed = Farmctl("status --endpoint " + url + token);
  EXPECT_EQ(malformed.exit_code, 1) << malformed.out;
  EXPECT_NE(malformed.out.find(KnownFarms() + ":2"), std::string::npos) << malformed.out;
  std::ofstream(KnownFarms(), std::ios::trunc) << known;

  CliRun watched = Farmctl("watch --endpoint " + url + token);  // no sweeps yet: says so
  EXPECT_NE(watched.out.find("no sweeps"), std::string::npos) << watched.out;

  const std::string wrong = "sha256:" + std::string(64, '0');
  CliRun refused = Farmctl("status --endpoint " + url + " --fingerprint " + wrong + token);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find(fingerprint), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find(wrong), std::string::npos) << refused.out;

  CliRun plain = Farmctl("status --endpoint http://" + ready.value("http", "") + token);
  EXPECT_EQ(plain.exit_code, 1) << plain.out;
  EXPECT_NE(plain.out.find("serves HTTPS"), std::string::npos) << plain.out;

  CliRun unpinned = Shell("STUDIOFARM_KNOWN_FARMS='" + (dir_ / "none").string() +
                          "' STUDIOFARM_FINGERPRINT= '" FARMCTL_PATH "' status --endpoint " + url +
                          token + " 2>&1");
  EXPECT_EQ(unpinned.exit_code, 1) << unpinned.out;
  EXPECT_NE(unpinned.out.find("--fingerprint"), std::string::npos) << unpinned.out;
}

TEST_F(FarmctlHttpsTest, TokensFromStdinAndAPlainTokenFlagIsScrubbedAndWarned) {
  std::ofstream(dir_ / "tokens") << "admin sha256:"
                                 << farmctl_test::Shell("printf %s " + std::string(kToken) +
                                                        " | sha256sum | cut -c1-64")
                                        .out.substr(0, 64)
                                 << "\n";
  json ready = StartFarmd(FarmdCommand("--tokens-file - < '" + (dir_ / "tokens").string() + "'"));
  ASSERT_TRUE(ready.is_object());
  // Loopback and --http-tls auto: plain HTTP, as before.
  EXPECT_EQ(ready.value("http_url", "").rfind("http://", 0), 0u) << ready.dump();
  const std::string endpoint = " --endpoint " + ready.value("http", "");
  EXPECT_EQ(Farmctl("status" + endpoint + " --token " + kToken).exit_code, 0);
  EXPECT_EQ(Farmctl("status" + endpoint + " --token other").exit_code, 1);
  ::kill(pid_, SIGTERM);

  const std::string secret = "visible-secret-123";
  ready = StartFarmd(FarmdCommand("--token " + secret));
  ASSERT_TRUE(ready.is_object());
  EXPECT_EQ(Cmdline().find(secret), std::string::npos) << Cmdline();
  EXPECT_NE(farmctl_test::FileBytes(Log()).find("read it in ps"), std::string::npos) << FarmdLog();
  EXPECT_EQ(
      Farmctl("status --endpoint " + ready.value("http", "") + " --token " + secret).exit_code, 0);
}

TEST_F(FarmctlHttpsTest, PlainHttpOffLoopbackNeedsTheExplicitFlag) {
  CliRun refused = Shell("'" FARMD_PATH "' --no-curve --db '" + Db() +
                         "' --listen-agents tcp://127.0.0.1:0 --listen-http 0.0.0.0:0 "
                         "--http-tls off 2>&1");
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_NE(refused.out.find("--allow-plain-http"), std::string::npos) << refused.out;
}

}  // namespace
