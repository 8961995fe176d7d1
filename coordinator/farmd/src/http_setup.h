// farmd's start-up choices for its HTTP API (main.cc only): HTTPS or plain HTTP for the
// listen address, the certificate, and where the API tokens come from.
#pragma once

#include <string>
#include <vector>

#include "farm/farmd/api_tokens.h"
#include "farm/farmd/http_server.h"
#include "farm_config.h"

namespace farm::farmd {

// True for 127.0.0.0/8, ::1 and "localhost" (the host part of a listen address).
bool IsLoopbackHost(const std::string& host);

struct HttpTlsChoice {
  HttpTlsOptions tls;       // enabled with the PEM pair, or disabled
  std::string fingerprint;  // "sha256:<hex>" when enabled
  std::string cert_path;    // when enabled
};

// Decides HTTPS from config.http_tls ("on", "off", "auto" = unless http_listen is loopback)
// and loads the certificate (config.tls_cert/tls_key, default under the database's folder),
// making it at first start. Plain HTTP on a non-loopback address is refused unless
// `allow_plain_http`, and then logged as a warning. Logs the fingerprint.
StatusOr<HttpTlsChoice> ChooseHttpTls(const FarmConfig& config, bool allow_plain_http);

// Where tokens come from, in addition to --tokens-file: --token/--read-token values and the
// FARMD_TOKEN / FARMD_READ_TOKEN environment variables (unset once read, so child
// processes do not inherit them). `tokens_file` "-" reads the file's lines from stdin.
// A plain (not "sha256:") token on the command line is accepted with a warning: other
// users see it in `ps`.
struct TokenSources {
  std::string token;
  std::string read_token;
  std::string tokens_file;
};
StatusOr<std::vector<ApiToken>> LoadApiTokens(const TokenSources& sources);

// Overwrites plain token values of --token/--read-token in argv, so that /proc/PID/cmdline
// shows them only until farmd has parsed its flags.
void ScrubTokenArgs(int argc, char** argv);

}  // namespace farm::farmd
