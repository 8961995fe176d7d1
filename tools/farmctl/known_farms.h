// The known farms file: the certificate fingerprints farmctl pins for farmd's HTTPS API, one
// "<host>[:<port>] sha256:<hex>" per line ('#' comments), written by `farmctl init` or by
// hand. Default ~/.config/studiofarm/known_farms ($STUDIOFARM_KNOWN_FARMS overrides).
#pragma once

#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farmctl {

// The fingerprint for an endpoint ("https://HOST:PORT" or "HOST:PORT"): the entry for
// HOST:PORT, else for HOST; empty when neither is listed or the file does not exist.
// InvalidArgument naming the file and line for a malformed line.
farm::StatusOr<std::string> FindKnownFingerprint(const std::string& path,
                                                 const std::string& endpoint);

// Adds or replaces the entries for `names` (HOST or HOST:PORT) with `fingerprint`; the file
// and its folder are created when missing. Other entries are kept.
farm::Status RememberFarm(const std::string& path, const std::vector<std::string>& names,
                          const std::string& fingerprint);

// The pin to use for `endpoint`: `fingerprint` when given, else the known farms entry; empty
// for plain http endpoints. InvalidArgument, saying where a pin comes from, when an https
// endpoint has none.
farm::StatusOr<std::string> PinFor(const std::string& endpoint, const std::string& fingerprint,
                                   const std::string& known_farms_path);

}  // namespace farmctl
