// Pre-flight of every file a sweep spec names, before anything is submitted: the base
// checkpoint, the LoRA files (`loras:`), the pose ControlNet and the identity's photos.
// Models get the header check of model_file_check.h, photos the one of photo_check.h.
// Models given only by sha256 are not on this machine's disk and are skipped.
#pragma once

#include <string>

#include "farm/schemas/status.h"
#include "farm/sweep/spec.h"

namespace farmctl {

// OK, or every problem found: one Status whose message lists each as
// "<spec field>: <path>: <what is wrong>; expected ..." (the code is the first problem's).
// Paths resolve as the sweep's own do (relative to `spec_dir`, models:/ under
// `models_dir`).
farm::Status CheckSpecInputs(const farm::sweep::SweepSpec& spec, const std::string& spec_dir,
                             const std::string& models_dir);

}  // namespace farmctl
