// farmctl report: one self-contained HTML page about one sweep (issue 14 §3): a summary,
// effects as inline SVG plots, contact sheets grouped by two parameters, the best and worst
// renders with their parameters. Images are embedded as data: URIs of real downscaled
// JPEGs made by `farm-agent thumbnails` (farmctl never links OpenCV), cached by the image's
// sha256; nothing on the page loads from the network.
//
// Library target farmctl_report, used by `farmctl report` and `farmctl nightly --report`.
// Reads through Store::Select only (a read-only store is enough). Not thread-safe per store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "farm/schemas/status.h"

namespace farm::store {
class Store;
}

namespace farmctl {

struct ReportOptions {
  // Parameters of the contact sheets' rows and columns (query column names: sampler, cfg,
  // pose, tone, steps, clip_skip, seed, size, lora, lora_step, lora_weight, denoise,
  // scheduler, checkpoint, status, agent, face_found).
  std::string group_rows = "pose";
  std::string group_columns = "tone";
  int thumb_size = 160;          // longest side of a thumbnail, pixels
  int best = 12;                 // best and worst renders shown (0: neither section)
  // Thumbnails in the contact sheets at most; the rest are counted and named as left out.
  // Large sweeps stay a few MB this way.
  int max_sheet_thumbnails = 400;
  double success_threshold = 0.5;  // a pose "succeeds": face found and cosine >= this
  std::uint64_t seed = 20240601;   // bootstrap seed: the same data gives the same page
  // farm-agent to make thumbnails with; empty: no thumbnails (cells say why).
  std::string agent_path;
  // Where artifacts' relative paths resolve (default of callers: <db dir>/artifacts).
  std::string artifact_root;
  // Thumbnail cache (<image sha256>-<size>.jpg); required when agent_path is set.
  std::string thumb_cache_dir;
  // farm-agent processes shrinking images at once (callers pass the core count).
  int thumb_processes = 2;
  // Stamped into the page's footer (callers pass the clock; the library reads none).
  std::string generated_at;
};

struct ReportSummary {
  std::int64_t bytes = 0;        // size of the written file
  int renders = 0;               // render rows of the sweep
  int thumbnails = 0;            // distinct images embedded (best/worst may repeat one)
  int thumbnails_left_out = 0;   // contact-sheet renders beyond max_sheet_thumbnails
  int thumbnail_failures = 0;    // images that could not be shrunk (missing file, not an image)
  std::vector<std::string> warnings;  // one line each, for stderr
};

// Writes the report of `sweep_id` to `path` (through a temporary file, renamed at the end).
// NotFound for an unknown sweep; InvalidArgument for an unknown group-by parameter; the
// store's errors otherwise. Missing images do not fail the report: their cells say so.
farm::StatusOr<ReportSummary> WriteSweepReport(farm::store::Store& store, std::int64_t sweep_id,
                                               const ReportOptions& options, const std::string& path);

// The group-by parameter names ReportOptions accepts, in help order.
const std::vector<std::string>& ReportGroupParameters();

}  // namespace farmctl
