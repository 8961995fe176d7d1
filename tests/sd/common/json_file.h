// Reading a JSON file in the engine's tests (the engine's own strict reader).
#pragma once

#include <string>

#include "farm/sd/json.h"

namespace farm::sd::testing {

// The parsed file; a failed read or parse is a test failure and yields null.
Json ReadJsonFile(const std::string& path);

}  // namespace farm::sd::testing
