// A new HTTP API bearer token: 32 random bytes from the kernel, as 64 hex digits. farmd
// keeps only its SHA-256 (`farmctl token new`, `farmctl run`).
#pragma once

#include <string>

#include "farm/schemas/status.h"

namespace farmctl {

farm::StatusOr<std::string> NewApiToken();

}  // namespace farmctl
