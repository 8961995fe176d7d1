#include "farm/agent/checkpoint_selection.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace farm::agent {

CheckpointSelection SelectCheckpoints(const std::map<int64_t, std::optional<double>>& scores,
                                      int64_t top_k, int64_t fallback_step) {
  std::vector<std::pair<int64_t, double>> scored;
  for (const auto& [step, score] : scores) {
    if (score) scored.emplace_back(step, *score);
  }
  CheckpointSelection selection;
  if (scored.empty()) {
    selection.best_step = fallback_step;
    selection.reason = scores.empty() ? "no validation ran; the last saved step is kept"
                                      : "no validation render showed a face; the last saved step is kept";
    return selection;
  }
  // Highest score first; on equal scores the earlier step.
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  selection.best_step = scored.front().first;
  selection.best_score = scored.front().second;
  const size_t k = static_cast<size_t>(std::max<int64_t>(1, top_k));
  for (size_t i = 0; i < std::min(k, scored.size()); ++i) selection.top_steps.push_back(scored[i].first);
  return selection;
}

StatusOr<sd::TensorMap> AverageLoras(const std::vector<sd::TensorMap>& loras) {
  if (loras.empty()) return InvalidArgument("no LoRAs to average");
  sd::TensorMap mean;
  for (const auto& [name, tensor] : loras[0]) {
    const bool alpha = name.size() > 6 && name.compare(name.size() - 6, 6, ".alpha") == 0;
    at::Tensor sum = tensor.to(at::kDouble).clone();
    for (size_t i = 1; i < loras.size(); ++i) {
      auto it = loras[i].find(name);
      if (it == loras[i].end() || it->second.sizes() != tensor.sizes()) {
        return InvalidArgument("LoRA " + std::to_string(i) + " has no tensor " + name + " of the same shape");
      }
      if (alpha && !at::equal(it->second, tensor)) return InvalidArgument("the LoRAs' " + name + " differ");
      sum += it->second.to(at::kDouble);
    }
    mean[name] = alpha ? tensor.clone() : (sum / static_cast<double>(loras.size())).to(tensor.scalar_type());
  }
  for (size_t i = 1; i < loras.size(); ++i) {
    if (loras[i].size() != mean.size()) return InvalidArgument("LoRA " + std::to_string(i) + " has other tensors");
  }
  return mean;
}

}  // namespace farm::agent
