#include "tls_commands.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "farm/farmd/tls_cert.h"
#include "farm/sweep/preset_files.h"
#include "known_farms.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;

struct InitArgs {
  std::string listen;
  std::vector<std::string> names;
  bool no_remember = false;
};

std::string StateDir(const GlobalOptions& options) {
  const fs::path parent = fs::path(EffectiveDbPath(options)).parent_path();
  return parent.empty() ? "." : parent.string();
}

// "host" and "port" of HOST:PORT ([v6]:port too); port empty when absent or 0.
std::pair<std::string, std::string> SplitListen(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  const std::size_t bracket = listen.rfind(']');
  std::string host = listen, port;
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (port == "0") port.clear();
  return {host, port};
}

int RunInit(const GlobalOptions& options, const ApiEnvironment& environment, const InitArgs& args) {
  const std::string state = StateDir(options);
  const std::string cert = farm::farmd::DefaultCertPath(state);
  const std::string key = farm::farmd::DefaultKeyPath(state);
  const auto [host, port] = SplitListen(args.listen);
  auto pair = farm::farmd::LoadOrCreateCertificate(cert, key,
                                                   farm::farmd::RequestForHost(host, args.names));
  if (!pair.ok()) return ReportError(options, pair.status());

  // How clients will name this farm: the given names, this host, a specific listen host.
  std::vector<std::string> remembered;
  auto add = [&](const std::string& name) {
    if (name.empty() || name == "0.0.0.0" || name == "::") return;
    const std::string entry =
        port.empty() ? name
                     : (name.find(':') != std::string::npos ? "[" + name + "]" : name) + ":" + port;
    if (std::find(remembered.begin(), remembered.end(), entry) == remembered.end())
      remembered.push_back(entry);
  };
  for (const std::string& name : args.names) add(name);
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) == 0) add(hostname);
  add(host);
  if (!args.no_remember) {
    farm::Status written = RememberFarm(environment.known_farms, remembered, pair->fingerprint);
    if (!written.ok()) return ReportError(options, written);
  } else {
    remembered.clear();
  }

  if (options.json) {
    nlohmann::ordered_json out = {{"ok", true},
                                  {"cert", cert},
                                  {"key", key},
                                  {"fingerprint", pair->fingerprint},
                                  {"generated", pair->generated},
                                  {"remembered", remembered},
                                  {"known_farms", environment.known_farms}};
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << (pair->generated ? "made " : "kept existing ") << cert << " and " << key
            << " (mode 0600)\n"
            << "fingerprint: " << pair->fingerprint << "\n";
  if (!remembered.empty()) {
    std::cout << "pinned in " << environment.known_farms << " for:";
    for (const std::string& name : remembered) std::cout << " " << name;
    std::cout << "\n";
  }
  std::cout << "farmd (with --db " << EffectiveDbPath(options)
            << ") serves HTTPS with it off loopback; on other machines:\n"
            << "  farmctl status --endpoint https://HOST:PORT --fingerprint " << pair->fingerprint
            << "\n";
  return kExitOk;
}

int RunCertShow(const GlobalOptions& options, const std::string& cert_flag) {
  const std::string cert =
      cert_flag.empty() ? farm::farmd::DefaultCertPath(StateDir(options)) : cert_flag;
  auto text = farm::sweep::ReadTextFile(cert);
  if (!text.ok()) {
    return ReportError(options,
                       farm::NotFound("no certificate at " + cert +
                                      " (farmctl init or farmd's first HTTPS start makes it; "
                                      "--db or --cert to look elsewhere)"));
  }
  auto fingerprint = farm::farmd::CertificateFingerprint(*text);
  if (!fingerprint.ok()) return ReportError(options, fingerprint.status().WithContext(cert));
  if (options.json) {
    nlohmann::ordered_json out = {{"ok", true}, {"cert", cert}, {"fingerprint", *fingerprint}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << *fingerprint << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddTlsCommands(CLI::App& app, GlobalOptions& options, const ApiEnvironment& environment,
                    int& exit_code) {
  auto init_args = std::make_shared<InitArgs>();
  CLI::App* init = app.add_subcommand(
      "init",
      "Make farmd's HTTPS certificate in the farm's state folder (the --db file's folder; kept "
      "if it exists) and pin its fingerprint in the known farms file");
  init->add_option("--listen", init_args->listen,
                   "HOST:PORT farmd will serve its HTTP API on (names the certificate and the "
                   "known farms entry)");
  init->add_option("--name", init_args->names,
                   "Another name or address clients use for this host (repeatable)");
  init->add_flag("--no-remember", init_args->no_remember, "Do not write the known farms file");
  init->callback([&options, &environment, &exit_code, init_args] {
    exit_code = RunInit(options, environment, *init_args);
  });

  CLI::App* cert = app.add_subcommand("cert", "farmd's HTTPS certificate");
  cert->require_subcommand(1);
  auto cert_path = std::make_shared<std::string>();
  CLI::App* show = cert->add_subcommand(
      "show", "Print the certificate's fingerprint (sha256:<hex>), the pin for --fingerprint");
  show->add_option("--cert", *cert_path,
                   "Certificate file (default: <state folder>/tls/farmd.crt)");
  show->callback(
      [&options, &exit_code, cert_path] { exit_code = RunCertShow(options, *cert_path); });
}

}  // namespace farmctl
