#include "gang_size.h"

#include <nlohmann/json.hpp>

namespace farm::farmd {

int GangSizeOf(const store::Job& job) {
  if (job.kind != store::JobKind::kTrain) return 1;
  const nlohmann::json params = nlohmann::json::parse(job.params_json, nullptr, false);
  if (params.is_discarded() || !params.is_object()) return 1;  // the agent reports bad records
  const auto ranks = params.find("ranks");
  if (ranks == params.end() || !ranks->is_number_integer()) return 1;
  return std::max(1, ranks->get<int>());
}

}  // namespace farm::farmd
