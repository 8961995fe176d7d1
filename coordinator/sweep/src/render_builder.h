// One grid point -> the RenderParams every seed of it shares (seed and LoRA are set by
// the caller).
#pragma once

#include <string>

#include "farm/schemas/render_params.h"
#include "farm/schemas/status.h"
#include "farm/sweep/spec.h"
#include "grid_plan.h"

namespace farm::sweep {

struct ResolvedModels {
  std::string checkpoint_sha256;
  std::string vae_sha256;           // empty: the checkpoint's VAE
  std::map<std::string, std::string> embeddings;  // name -> sha256
  std::string pose_control_sha256;  // empty when the spec has no pose_control
};

// The value of a parameter at a point: swept (`values`) or fixed; nullptr if neither.
const GridValue* ParamAt(const SweepSpec& spec, const GridPlan& plan, const PointValues& values,
                         const std::string& name);

StatusOr<RenderParams> BuildRender(const SweepSpec& spec, const GridPlan& plan,
                                   const PointValues& values, const ResolvedModels& models);

}  // namespace farm::sweep
