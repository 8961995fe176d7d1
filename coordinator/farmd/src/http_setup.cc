#include "http_setup.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "farm/farmd/tls_cert.h"
#include "farm/sweep/preset_files.h"

namespace farm::farmd {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDigestPrefix = "sha256:";

bool IsDigest(std::string_view entry) {
  return entry.substr(0, kDigestPrefix.size()) == kDigestPrefix;
}

std::string HostOf(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

// Reads and unsets an environment variable; empty when unset.
std::string TakeEnvironment(const char* name) {
  const char* value = std::getenv(name);
  std::string text = value ? value : "";
  ::unsetenv(name);
  return text;
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

StatusOr<HttpTlsChoice> ChooseHttpTls(const FarmConfig& config, bool allow_plain_http) {
  const std::string host = HostOf(config.http_listen);
  const bool loopback = IsLoopbackHost(host);
  HttpTlsChoice choice;
  const bool tls = config.http_tls == "on" || (config.http_tls == "auto" && !loopback);
  if (!tls) {
    if (!loopback) {
      if (!allow_plain_http) {
        return InvalidArgument(
            "HTTP API on " + config.http_listen +
            " (not loopback) with http_tls off: tokens would cross the network in clear text. "
            "Use --http-tls auto|on (HTTPS), bind to 127.0.0.1, or pass --allow-plain-http "
            "(e.g. behind a TLS-terminating proxy on this host)");
      }
      spdlog::warn(
          "plain HTTP on {} (--allow-plain-http): API tokens and results cross the "
          "network in clear text",
          config.http_listen);
    }
    return choice;
  }
  const std::string state_dir = fs::path(config.database).parent_path().string();
  choice.cert_path = config.tls_cert.empty() ? DefaultCertPath(state_dir) : config.tls_cert;
  const std::string key_path = config.tls_key.empty() ? DefaultKeyPath(state_dir) : config.tls_key;
  FARM_ASSIGN_OR_RETURN(CertificatePair pair,
                        LoadOrCreateCertificate(choice.cert_path, key_path, RequestForHost(host)));
  struct stat key_stat {};
  if (::stat(key_path.c_str(), &key_stat) == 0 && (key_stat.st_mode & 077) != 0) {
    spdlog::warn("TLS key {} is readable by other users (mode {:o}): chmod 600 it", key_path,
                 key_stat.st_mode & 0777);
  }
  spdlog::info("HTTPS on {}: {} certificate {}, fingerprint {}", config.http_listen,
               pair.generated ? "new" : "existing", choice.cert_path, pair.fingerprint);
  choice.tls.enabled = true;
  choice.tls.cert_pem = std::move(pair.cert_pem);
  choice.tls.key_pem = std::move(pair.key_pem);
  choice.fingerprint = pair.fingerprint;
  return choice;
}

StatusOr<std::vector<ApiToken>> LoadApiTokens(const TokenSources& sources) {
  std::vector<ApiToken> tokens;
  const std::string env_admin = TakeEnvironment("FARMD_TOKEN");
  const std::string env_read = TakeEnvironment("FARMD_READ_TOKEN");
  struct Entry {
    TokenKind kind;
    const std::string* value;
    const char* from;
    bool on_command_line;
  };
  for (const Entry& entry : {Entry{TokenKind::kAdmin, &sources.token, "--token", true},
                             Entry{TokenKind::kRead, &sources.read_token, "--read-token", true},
                             Entry{TokenKind::kAdmin, &env_admin, "FARMD_TOKEN", false},
                             Entry{TokenKind::kRead, &env_read, "FARMD_READ_TOKEN", false}}) {
    if (entry.value->empty()) continue;
    if (entry.on_command_line && !IsDigest(*entry.value)) {
      spdlog::warn(
          "{} with a plain token: other users of this host can read it in ps; give "
          "farmd the 'sha256:' form (farmctl token new), --tokens-file or $FARMD_TOKEN",
          entry.from);
    }
    auto parsed = MakeApiToken(entry.kind, *entry.value);
    if (!parsed.ok()) return parsed.status().WithContext(entry.from);
    tokens.push_back(std::move(*parsed));
  }
  if (!sources.tokens_file.empty()) {
    std::string text;
    if (sources.tokens_file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      FARM_ASSIGN_OR_RETURN(text, sweep::ReadTextFile(sources.tokens_file));
    }
    const std::string name = sources.tokens_file == "-" ? "<stdin>" : sources.tokens_file;
    FARM_ASSIGN_OR_RETURN(std::vector<ApiToken> listed, ParseTokensFile(text, name));
    tokens.insert(tokens.end(), listed.begin(), listed.end());
  }
  return tokens;
}

void ScrubTokenArgs(int argc, char** argv) {
  auto scrub = [](char* value) {
    if (IsDigest(value)) return;  // a digest is no secret
    std::memset(value, 'x', std::strlen(value));
  };
  for (int i = 1; i < argc; ++i) {
    for (std::string_view flag : {"--token", "--read-token"}) {
      const std::string_view arg = argv[i];
      if (arg == flag && i + 1 < argc) {
        scrub(argv[i + 1]);
      } else if (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag &&
                 arg[flag.size()] == '=') {
        scrub(argv[i] + flag.size() + 1);
      }
    }
  }
}

}  // namespace farm::farmd
