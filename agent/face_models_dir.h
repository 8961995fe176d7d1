// Where farm-agent finds the face-api weights, for every command that detects faces.
#pragma once

#include <string>

#include "farm/schemas/status.h"

namespace farm::agent {

// `flag` (default $STUDIOFARM_MODELS, else ~/.cache/studiofarm/models) when it holds the
// face-api manifests itself, else its face-api/model folder; NotFound says where it looked.
StatusOr<std::string> FaceModelDir(const std::string& flag);

}  // namespace farm::agent
