#include "farm/schemas/trained_lora.h"

#include <charconv>

namespace farm {

StatusOr<TrainedLoraRef> ParseTrainedLoraRef(std::string_view ref) {
  auto bad = [&] {
    return InvalidArgument("LoRA ref '" + std::string(ref) +
                           "': expected train:<64 lower-case hex param_hash>@<step>");
  };
  constexpr std::string_view kPrefix = "train:";
  if (!ref.starts_with(kPrefix)) return bad();
  const std::string_view rest = ref.substr(kPrefix.size());
  const std::size_t at = rest.find('@');
  if (at != 64) return bad();
  TrainedLoraRef out;
  out.train_param_hash = std::string(rest.substr(0, at));
  for (char c : out.train_param_hash) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return bad();
  }
  const std::string_view step = rest.substr(at + 1);
  const auto [end, error] = std::from_chars(step.data(), step.data() + step.size(), out.step);
  if (step.empty() || error != std::errc() || end != step.data() + step.size() || out.step <= 0) {
    return bad();
  }
  return out;
}

std::string LoraArtifactName(int step) { return "lora@" + std::to_string(step); }

}  // namespace farm
