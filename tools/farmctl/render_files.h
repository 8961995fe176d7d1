// What the render verbs (renders, top, show, export) share: sweeps named by id or name,
// the artifact root of a farm and the files under it, and a render's A1111 parameters
// text as its PNG carries it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "farm/schemas/status.h"
#include "farm/store/records.h"

namespace farm::store {
class Store;
}

namespace farmctl {

// A sweep by id ("3") or by name ("portraits"; the newest of that name). NotFound names
// the text.
farm::StatusOr<std::int64_t> ResolveSweep(farm::store::Store& store, const std::string& text);
farm::StatusOr<std::vector<std::int64_t>> ResolveSweeps(farm::store::Store& store,
                                                        const std::vector<std::string>& texts);

// The farm's artifact root: `option` when given, else the folder "artifacts" next to the
// database (as `farmctl run` lays a local farm out), made absolute.
std::filesystem::path ArtifactRoot(const std::string& db_path, const std::string& option);

// Absolute path of a stored artifact under `root`.
std::string ArtifactFile(const std::filesystem::path& root, const farm::store::Artifact& artifact);

// The whole file; NotFound when it does not exist, Unavailable when it cannot be read.
farm::StatusOr<std::string> ReadWholeFile(const std::string& path);

// The render's "parameters" text (farm/schemas/render_infotext.h). The checkpoint and LoRA
// file names are not in the database, so "Model" is left out and LoRAs are named lora0,
// lora1, ...; "Final size" comes from the render's recipe record when it can be read.
farm::StatusOr<std::string> RenderParametersText(farm::store::Store& store,
                                                 const farm::store::Render& render,
                                                 const std::filesystem::path& root);

}  // namespace farmctl
