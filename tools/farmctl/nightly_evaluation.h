// The nightly regression gate: one evaluation sweep compared with its baseline sweep
// (renders paired by record), checked against the spec's `nightly:` limits. Reads the
// store only; `farmctl nightly` runs the sweep, prints and records the verdict.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "farm/analysis/compare.h"
#include "farm/schemas/status.h"
#include "farm/sweep/spec.h"

namespace farm::store {
class Store;
}

namespace farmctl {

// One render of a sweep as the gate sees it.
struct EvaluatedRender {
  std::int64_t render_id = 0;
  std::string pair_key;       // the record without its engine field: pairs across engines
  std::string pose;           // "" without one
  std::optional<double> score;
  std::optional<int> faces_found;  // unset: not scored
  std::string image_sha256;        // "" when the render has no image in this sweep
  std::string engine;              // the record's engine version
  std::string agent_version;       // the farm-agent that rendered it
};

// A render whose pixels differ between the two evaluations.
struct PixelChange {
  std::int64_t render_id = 0;
  std::string baseline_image, run_image;
  std::string baseline_engine, run_engine;
  std::string baseline_agent_version, run_agent_version;
};

struct PoseSuccess {
  std::string pose;
  farm::analysis::Proportion baseline, run;
  double drop = 0;  // baseline rate - run rate
};

// One limit of the gate and how the run did against it.
struct GateCheck {
  std::string name;
  double value = 0;  // what was measured (a drop: positive = worse)
  double limit = 0;
  bool pass = true;
  std::string detail;
};

struct NightlyEvaluation {
  std::int64_t baseline_sweep_id = 0;
  std::int64_t run_sweep_id = 0;
  std::size_t baseline_renders = 0, run_renders = 0;
  std::size_t run_without_image = 0;  // renders of the run that did not render
  std::size_t pixels_compared = 0;    // pairs with an image on both sides
  // Images whose files differ are decoded and compared by pixels (a PNG also carries its
  // job's id); without a PixelHasher, or when it fails, by file ("files", and why).
  std::string pixel_method = "pixels";
  std::string pixel_note;
  std::vector<PixelChange> pixel_changes;
  farm::analysis::Comparison comparison;  // a = baseline, b = run, paired by record
  std::vector<PoseSuccess> poses;
  std::vector<GateCheck> checks;
  bool pass = true;
};

// The pixel SHA-256 of stored images, by the image file's sha256 (farmctl nightly runs
// `farm-agent pixel-hash` over the artifact files).
using PixelHasher = std::function<farm::StatusOr<std::map<std::string, std::string>>(
    const std::vector<std::string>& image_sha256s)>;

// Reads both sweeps' renders and applies `gate`. NotFound for a sweep without renders.
farm::StatusOr<NightlyEvaluation> EvaluateNightly(farm::store::Store& store,
                                                  std::int64_t baseline_sweep_id,
                                                  std::int64_t run_sweep_id,
                                                  const farm::sweep::NightlySpec& gate,
                                                  const PixelHasher& pixel_hasher = {});

// The renders of one sweep (render_results joined with renders), by render id.
farm::StatusOr<std::vector<EvaluatedRender>> LoadEvaluatedRenders(farm::store::Store& store,
                                                                  std::int64_t sweep_id);

nlohmann::ordered_json EvaluationJson(const NightlyEvaluation& evaluation);
// A readable summary: the verdict first, then each check, pixel drift and poses.
void PrintEvaluation(std::ostream& out, const NightlyEvaluation& evaluation);

}  // namespace farmctl
