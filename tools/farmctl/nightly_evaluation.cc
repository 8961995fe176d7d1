#include "nightly_evaluation.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "farm/analysis/proportion.h"
#include "farm/analysis/scored_table.h"
#include "farm/store/render_sql.h"
#include "farm/store/store.h"

namespace farmctl {
namespace {

using farm::analysis::kFace;
using farm::analysis::kFaceUnknown;
using farm::analysis::kNoFace;
using Json = nlohmann::ordered_json;

// Fixed text, every value bound; the whole record as render_sql.h builds it.
const std::string kRendersOfSweep =
    std::string("SELECT r.id, ") + farm::store::kRenderRecordSql +
    ", r.pose, rr.score, rr.faces_found, rr.image_sha256, "
    "rr.agent_version FROM render_results rr JOIN renders r ON r.id = rr.render_id "
    "WHERE rr.sweep_id = ?1 ORDER BY r.id";

std::string Text(const farm::store::SqlValue& value) {
  return std::holds_alternative<std::string>(value) ? std::get<std::string>(value) : std::string();
}

std::optional<double> Number(const farm::store::SqlValue& value) {
  if (std::holds_alternative<double>(value)) return std::get<double>(value);
  if (std::holds_alternative<std::int64_t>(value)) {
    return static_cast<double>(std::get<std::int64_t>(value));
  }
  return std::nullopt;
}

farm::analysis::CompareSide SideOf(const std::vector<EvaluatedRender>& renders) {
  farm::analysis::CompareSide side;
  for (const EvaluatedRender& r : renders) {
    side.scores.push_back(r.score.value_or(farm::analysis::kNaN));
    side.face_found.push_back(!r.faces_found ? kFaceUnknown : *r.faces_found > 0 ? kFace : kNoFace);
    side.pair_keys.push_back(r.pair_key);
  }
  return side;
}

// Success per pose: a face and a score >= threshold, over the scored renders of the pose.
std::map<std::string, farm::analysis::Proportion> PoseRates(const std::vector<EvaluatedRender>& renders,
                                                            double threshold) {
  std::map<std::string, std::pair<std::size_t, std::size_t>> counts;  // pose -> (ok, n)
  for (const EvaluatedRender& r : renders) {
    if (!r.faces_found) continue;
    auto& [ok, n] = counts[r.pose.empty() ? "(none)" : r.pose];
    ++n;
    if (*r.faces_found > 0 && r.score && *r.score >= threshold) ++ok;
  }
  std::map<std::string, farm::analysis::Proportion> rates;
  for (const auto& [pose, c] : counts) rates[pose] = farm::analysis::MakeProportion(c.first, c.second);
  return rates;
}

std::string Fixed(double value, int digits = 4) {
  if (!std::isfinite(value)) return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

Json NumberOrNull(double value) { return std::isfinite(value) ? Json(value) : Json(nullptr); }

Json IntervalJson(const farm::analysis::Interval& ci) {
  return Json::array({NumberOrNull(ci.low), NumberOrNull(ci.high)});
}

Json ProportionJson(const farm::analysis::Proportion& p) {
  return {{"successes", p.successes}, {"n", p.n}, {"rate", NumberOrNull(p.rate)}, {"ci", IntervalJson(p.ci)}};
}

}  // namespace

farm::StatusOr<std::vector<EvaluatedRender>> LoadEvaluatedRenders(farm::store::Store& store,
                                                                  std::int64_t sweep_id) {
  FARM_ASSIGN_OR_RETURN(farm::store::SelectResult rows,
                        store.Select(kRendersOfSweep, {farm::store::SqlValue{sweep_id}}));
  std::vector<EvaluatedRender> renders;
  renders.reserve(rows.rows.size());
  for (const auto& row : rows.rows) {
    EvaluatedRender r;
    r.render_id = std::get<std::int64_t>(row[0]);
    // Pair on the record without its engine: a new engine version changes param_hash but
    // it is still the same render asked for again.
    nlohmann::json record = nlohmann::json::parse(Text(row[1]), nullptr, false);
    if (record.is_object()) {
      r.engine = record.value("engine", std::string());
      record.erase("engine");
      r.pair_key = record.dump();
    } else {
      r.pair_key = Text(row[1]);
    }
    r.pose = Text(row[2]);
    r.score = Number(row[3]);
    if (auto faces = Number(row[4])) r.faces_found = static_cast<int>(*faces);
    r.image_sha256 = Text(row[5]);
    r.agent_version = Text(row[6]);
    renders.push_back(std::move(r));
  }
  return renders;
}

farm::StatusOr<NightlyEvaluation> EvaluateNightly(farm::store::Store& store,
                                                  std::int64_t baseline_sweep_id,
                                                  std::int64_t run_sweep_id,
                                                  const farm::sweep::NightlySpec& gate,
                                                  const PixelHasher& pixel_hasher) {
  FARM_ASSIGN_OR_RETURN(std::vector<EvaluatedRender> baseline,
                        LoadEvaluatedRenders(store, baseline_sweep_id));
  FARM_ASSIGN_OR_RETURN(std::vector<EvaluatedRender> run, LoadEvaluatedRenders(store, run_sweep_id));
  if (baseline.empty()) {
    return farm::NotFound("baseline sweep " + std::to_string(baseline_sweep_id) + " has no renders");
  }
  if (run.empty()) return farm::NotFound("sweep " + std::to_string(run_sweep_id) + " has no renders");

  NightlyEvaluation e;
  e.baseline_sweep_id = baseline_sweep_id;
  e.run_sweep_id = run_sweep_id;
  e.baseline_renders = baseline.size();
  e.run_renders = run.size();
  for (const EvaluatedRender& r : run) e.run_without_image += r.image_sha256.empty() ? 1 : 0;

  const farm::analysis::CompareSide a = SideOf(baseline);
  const farm::analysis::CompareSide b = SideOf(run);
  e.comparison = farm::analysis::Compare(a, b);
  const farm::analysis::Pairing pairing = farm::analysis::PairByKey(a.pair_keys, b.pair_keys);
  std::vector<std::pair<std::size_t, std::size_t>> differing_files;
  for (const auto& [i, j] : pairing.pairs) {
    if (baseline[i].image_sha256.empty() || run[j].image_sha256.empty()) continue;
    ++e.pixels_compared;
    if (baseline[i].image_sha256 != run[j].image_sha256) differing_files.emplace_back(i, j);
  }
  std::map<std::string, std::string> pixels;  // image sha256 -> pixel sha256
  if (!differing_files.empty()) {
    std::vector<std::string> images;
    for (const auto& [i, j] : differing_files) {
      images.push_back(baseline[i].image_sha256);
      images.push_back(run[j].image_sha256);
    }
    if (!pixel_hasher) {
      e.pixel_method = "files";
      e.pixel_note = "no pixel hasher: compared files";
    } else if (auto hashed = pixel_hasher(images); hashed.ok()) {
      pixels = std::move(*hashed);
    } else {
      e.pixel_method = "files";
      e.pixel_note = "pixels not compared (" + hashed.status().message() + "): compared files";
    }
  }
  for (const auto& [i, j] : differing_files) {
    const EvaluatedRender& old_render = baseline[i];
    const EvaluatedRender& new_render = run[j];
    if (e.pixel_method == "pixels") {
      auto old_pixels = pixels.find(old_render.image_sha256);
      auto new_pixels = pixels.find(new_render.image_sha256);
      if (old_pixels == pixels.end() || new_pixels == pixels.end()) {
        e.pixel_method = "files";
        e.pixel_note = "no pixel hash for image " + (old_pixels == pixels.end() ? old_render.image_sha256
                                                                               : new_render.image_sha256) +
                       ": compared files";
      } else if (old_pixels->second == new_pixels->second) {
        continue;  // same pixels in a different file (its metadata names another job)
      }
    }
    e.pixel_changes.push_back({new_render.render_id, old_render.image_sha256, new_render.image_sha256,
                               old_render.engine, new_render.engine, old_render.agent_version,
                               new_render.agent_version});
  }

  // Every render of the run must have rendered.
  e.checks.push_back({"renders_missing", static_cast<double>(e.run_without_image), 0,
                      e.run_without_image == 0,
                      std::to_string(e.run_without_image) + " of " + std::to_string(run.size()) +
                          " renders have no image"});
  // The mean score, paired by record when the renders pair up.
  const bool paired = e.comparison.paired.has_value();
  const double delta = paired ? e.comparison.paired->diff.mean : e.comparison.delta.delta;
  const farm::analysis::Interval ci = paired ? e.comparison.paired->diff.ci : e.comparison.delta.ci;
  if (std::isfinite(delta)) {
    const double drop = -delta;
    const bool within = drop <= gate.max_mean_drop;
    const bool ci_zero = gate.pass_if_ci_includes_zero && ci.Contains(0.0);
    e.checks.push_back({"mean_score_drop", drop, gate.max_mean_drop, within || ci_zero,
                        std::string(paired ? "paired" : "unpaired") + " delta " + Fixed(delta) +
                            ", 95% CI [" + Fixed(ci.low) + ", " + Fixed(ci.high) + "]" +
                            (!within && ci_zero ? " (includes 0)" : "")});
  } else if (e.comparison.a.score.n == 0 && e.comparison.b.score.n == 0) {
    // Nothing scored on either side (no face anywhere): the face-found rate speaks.
    e.checks.push_back({"mean_score_drop", 0, gate.max_mean_drop, true,
                        "no scores on either side: nothing to compare"});
  } else {
    e.checks.push_back({"mean_score_drop", 0, gate.max_mean_drop, false,
                        std::string(e.comparison.b.score.n == 0 ? "the run" : "the baseline") +
                            " has no scores to compare"});
  }
  const farm::analysis::Proportion& face_a = e.comparison.a.face_found;
  const farm::analysis::Proportion& face_b = e.comparison.b.face_found;
  if (face_a.n > 0 && face_b.n > 0) {
    const double drop = face_a.rate - face_b.rate;
    e.checks.push_back({"face_rate_drop", drop, gate.max_face_rate_drop,
                        drop <= gate.max_face_rate_drop + 1e-12,
                        "faces found " + Fixed(face_a.rate, 3) + " -> " + Fixed(face_b.rate, 3)});
  }
  const auto rates_a = PoseRates(baseline, gate.success_threshold);
  const auto rates_b = PoseRates(run, gate.success_threshold);
  for (const auto& [pose, rate_a] : rates_a) {
    auto it = rates_b.find(pose);
    if (it == rates_b.end()) continue;
    PoseSuccess pose_success{pose, rate_a, it->second, rate_a.rate - it->second.rate};
    e.poses.push_back(pose_success);
    e.checks.push_back({"pose_success_drop:" + pose, pose_success.drop, gate.max_pose_success_drop,
                        pose_success.drop <= gate.max_pose_success_drop + 1e-12,
                        pose + " success " + Fixed(rate_a.rate, 3) + " -> " +
                            Fixed(it->second.rate, 3)});
  }
  e.pass = std::all_of(e.checks.begin(), e.checks.end(), [](const GateCheck& c) { return c.pass; });
  return e;
}

Json EvaluationJson(const NightlyEvaluation& e) {
  const farm::analysis::Comparison& c = e.comparison;
  Json score = {{"baseline_mean", NumberOrNull(c.a.score.mean)},
                {"baseline_ci", IntervalJson(c.a.score.ci)},
                {"run_mean", NumberOrNull(c.b.score.mean)},
                {"run_ci", IntervalJson(c.b.score.ci)},
                {"delta", NumberOrNull(c.delta.delta)},
                {"delta_ci", IntervalJson(c.delta.ci)}};
  if (c.paired) {
    score["paired"] = {{"pairs", c.paired->pairs},
                       {"unpaired_baseline", c.paired->unpaired_a},
                       {"unpaired_run", c.paired->unpaired_b},
                       {"delta", NumberOrNull(c.paired->diff.mean)},
                       {"ci", IntervalJson(c.paired->diff.ci)}};
  }
  Json changes = Json::array();
  for (const PixelChange& p : e.pixel_changes) {
    changes.push_back({{"render_id", p.render_id},
                       {"baseline_image", p.baseline_image},
                       {"run_image", p.run_image},
                       {"baseline_engine", p.baseline_engine},
                       {"run_engine", p.run_engine},
                       {"baseline_agent_version", p.baseline_agent_version},
                       {"run_agent_version", p.run_agent_version}});
  }
  Json poses = Json::array();
  for (const PoseSuccess& p : e.poses) {
    poses.push_back({{"pose", p.pose},
                     {"baseline", ProportionJson(p.baseline)},
                     {"run", ProportionJson(p.run)},
                     {"drop", NumberOrNull(p.drop)}});
  }
  Json checks = Json::array();
  for (const GateCheck& check : e.checks) {
    checks.push_back({{"name", check.name},
                      {"value", NumberOrNull(check.value)},
                      {"limit", check.limit},
                      {"pass", check.pass},
                      {"detail", check.detail}});
  }
  return {{"pass", e.pass},
          {"baseline_sweep_id", e.baseline_sweep_id},
          {"sweep_id", e.run_sweep_id},
          {"renders", {{"baseline", e.baseline_renders}, {"run", e.run_renders},
                       {"run_without_image", e.run_without_image}}},
          {"pixels", {{"compared", e.pixels_compared},
                      {"changed", e.pixel_changes.size()},
                      {"method", e.pixel_method},
                      {"note", e.pixel_note},
                      {"changes", changes}}},
          {"score", score},
          {"face_found", {{"baseline", ProportionJson(c.a.face_found)},
                          {"run", ProportionJson(c.b.face_found)}}},
          {"poses", poses},
          {"checks", checks}};
}

void PrintEvaluation(std::ostream& out, const NightlyEvaluation& e) {
  out << "nightly: sweep " << e.run_sweep_id << " against baseline sweep " << e.baseline_sweep_id
      << ": " << (e.pass ? "PASS" : "FAIL (regression)") << "\n";
  for (const GateCheck& check : e.checks) {
    out << "  " << (check.pass ? "ok  " : "FAIL") << " " << check.name << ": " << check.detail;
    if (check.name != "renders_missing") out << " (limit " << Fixed(check.limit, 3) << ")";
    out << "\n";
  }
  out << "  pixels: " << e.pixel_changes.size() << " of " << e.pixels_compared
      << " paired renders changed" << (e.pixel_note.empty() ? "" : " (" + e.pixel_note + ")")
      << "\n";
  const std::size_t shown = std::min<std::size_t>(e.pixel_changes.size(), 10);
  for (std::size_t i = 0; i < shown; ++i) {
    const PixelChange& p = e.pixel_changes[i];
    out << "    render " << p.render_id << ": " << p.baseline_image.substr(0, 12) << " ("
        << p.baseline_engine << ", agent " << (p.baseline_agent_version.empty() ? "?" : p.baseline_agent_version)
        << ") -> " << p.run_image.substr(0, 12) << " (" << p.run_engine << ", agent "
        << (p.run_agent_version.empty() ? "?" : p.run_agent_version) << ")\n";
  }
  if (e.pixel_changes.size() > shown) out << "    ... and " << e.pixel_changes.size() - shown << " more\n";
  const farm::analysis::Comparison& c = e.comparison;
  out << "  mean score: " << Fixed(c.a.score.mean) << " (n " << c.a.score.n << ") -> "
      << Fixed(c.b.score.mean) << " (n " << c.b.score.n << ")\n";
}

}  // namespace farmctl
