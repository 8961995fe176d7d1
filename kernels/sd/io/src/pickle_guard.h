// Pickle checkpoints (.ckpt/.pt/.pth/.bin, torch.save zips) execute code while being
// unpickled, so the engine never opens them; it explains how to convert instead.
#pragma once

#include <string>

#include "farm/schemas/status.h"

namespace farm::sd {

// An error when `path` is named like a pickle checkpoint or starts with the pickle or
// zip magic bytes; OK otherwise (also when the file cannot be read: the caller reports that).
Status RefusePickleCheckpoint(const std::string& path);

}  // namespace farm::sd
