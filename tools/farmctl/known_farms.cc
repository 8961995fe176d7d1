#include "known_farms.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "farm/farmd/tls_cert.h"
#include "http_client.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string name;
  std::string fingerprint;
};

std::string HostPort(std::string endpoint) {
  for (const char* scheme : {"https://", "http://"}) {
    if (endpoint.rfind(scheme, 0) == 0) endpoint.erase(0, std::string(scheme).size());
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

std::string HostOnly(const std::string& host_port) {
  const std::size_t colon = host_port.rfind(':');
  const std::size_t bracket = host_port.rfind(']');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket))
    return host_port;
  return host_port.substr(0, colon);
}

// Entries in file order; a missing file has none.
farm::StatusOr<std::vector<Entry>> ReadEntries(const std::string& path) {
  std::vector<Entry> entries;
  std::ifstream in(path);
  if (!in) return entries;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::size_t hash = line.find('#');
    std::istringstream fields(hash == std::string::npos ? line : line.substr(0, hash));
    Entry entry;
    std::string rest;
    if (!(fields >> entry.name)) continue;
    if (!(fields >> entry.fingerprint) || (fields >> rest)) {
      return farm::InvalidArgument(path + ":" + std::to_string(number) +
                                   ": expected '<host>[:<port>] sha256:<hex>'");
    }
    auto normal = farm::farmd::NormalizeFingerprint(entry.fingerprint);
    if (!normal.ok()) {
      return farm::InvalidArgument(path + ":" + std::to_string(number) + ": " +
                                   normal.status().message());
    }
    entry.fingerprint = *normal;
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

farm::StatusOr<std::string> FindKnownFingerprint(const std::string& path,
                                                 const std::string& endpoint) {
  FARM_ASSIGN_OR_RETURN(std::vector<Entry> entries, ReadEntries(path));
  const std::string host_port = HostPort(endpoint);
  const std::string host = HostOnly(host_port);
  std::string by_host;
  for (const Entry& entry : entries) {
    if (entry.name == host_port) return entry.fingerprint;
    if (entry.name == host && by_host.empty()) by_host = entry.fingerprint;
  }
  return by_host;
}

farm::Status RememberFarm(const std::string& path, const std::vector<std::string>& names,
                          const std::string& fingerprint) {
  FARM_ASSIGN_OR_RETURN(std::vector<Entry> entries, ReadEntries(path));
  std::string text = "# farmctl known farms: <host>[:<port>] sha256:<certificate fingerprint>\n";
  for (const Entry& entry : entries) {
    bool replaced = false;
    for (const std::string& name : names) replaced = replaced || name == entry.name;
    if (!replaced) text += entry.name + " " + entry.fingerprint + "\n";
  }
  for (const std::string& name : names) text += name + " " + fingerprint + "\n";
  std::error_code ec;
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path(), ec);
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    if (!(out << text) || !out.flush()) return farm::Unavailable("cannot write '" + temp + "'");
  }
  fs::rename(temp, path, ec);
  if (ec) return farm::Unavailable("cannot replace '" + path + "': " + ec.message());
  return farm::Status::Ok();
}

farm::StatusOr<std::string> PinFor(const std::string& endpoint, const std::string& fingerprint,
                                   const std::string& known_farms_path) {
  if (!IsHttpsEndpoint(endpoint)) return std::string();
  if (!fingerprint.empty()) return farm::farmd::NormalizeFingerprint(fingerprint);
  FARM_ASSIGN_OR_RETURN(std::string known, FindKnownFingerprint(known_farms_path, endpoint));
  if (known.empty()) {
    return farm::InvalidArgument(
        "no certificate fingerprint for " + endpoint +
        ": pass --fingerprint sha256:<hex> (or "
        "$STUDIOFARM_FINGERPRINT; `farmctl cert show` on the farmd host prints it), or list the "
        "host in " +
        known_farms_path + " (`farmctl init` writes it)");
  }
  return known;
}

}  // namespace farmctl
