// Private to farm_schemas: the canonical writer over nlohmann::json, shared by the
// record serialisers in render_params.cc.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "farm/schemas/status.h"

namespace farm {

void AppendCanonicalString(std::string& out, std::string_view text);
Status AppendCanonical(std::string& out, const nlohmann::json& value);

}  // namespace farm
