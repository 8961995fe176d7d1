#include <algorithm>

#include "farm/sweep/expand.h"
#include "farm/sweep/parser.h"
#include "prompt_template.h"
#include "spec_sections.h"
#include "stage_table.h"
#include "suggest.h"
#include "tone_reader.h"
#include "yaml_reader.h"

namespace farm::sweep {
namespace {

const std::vector<std::string>& RootKeys() {
  static const std::vector<std::string> kKeys = {
      "name",   "description", "priority", "max_jobs", "identity", "checkpoint", "train", "loras",
      "render", "nightly", "grid",        "zip",      "exclude",  "pipeline", "tones",      "score",
      "search", "vae", "embeddings"};
  return kKeys;
}

bool IsSpecName(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

void ReadTopScalars(const std::vector<MapEntry>& entries, const YAML::Node& root, SweepSpec& spec,
                    DiagnosticSink& sink) {
  if (const MapEntry* e = FindEntry(entries, "name")) {
    auto name = ReadString(e->value, e->path, false, sink);
    if (name && !IsSpecName(*name)) {
      sink.Add(e->value, e->path,
               "bad sweep name '" + *name + "'; expected letters, digits, '_', '-', '.'");
    } else if (name) {
      spec.name = *name;
    }
  } else {
    ReportMissing(root, "name", "the sweep's name, e.g. name: lora_steps", sink);
  }
  if (const MapEntry* e = FindEntry(entries, "description")) {
    if (auto text = ReadString(e->value, e->path, true, sink)) spec.description = *text;
  }
  if (const MapEntry* e = FindEntry(entries, "priority")) {
    if (auto p = ReadInt(e->value, e->path, {-1000, 1000}, sink)) spec.priority = *p;
  }
  if (const MapEntry* e = FindEntry(entries, "max_jobs")) {
    if (auto m = ReadInt(e->value, e->path, {1, 1e9}, sink)) spec.max_jobs = *m;
  }
}

// The nightly gate's limits: each optional, each checked where it was written.
void ReadNightly(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink) {
  auto entries = ReadMap(entry.value, entry.path,
                         {"max_mean_drop", "pass_if_ci_includes_zero", "max_face_rate_drop",
                          "max_pose_success_drop", "success_threshold"},
                         sink);
  if (!entries) return;
  NightlySpec nightly;
  auto number = [&](const char* key, double* out) {
    if (const MapEntry* e = FindEntry(*entries, key)) {
      if (auto value = ReadNumber(e->value, e->path, {0, 2}, sink)) *out = *value;
    }
  };
  number("max_mean_drop", &nightly.max_mean_drop);
  number("max_face_rate_drop", &nightly.max_face_rate_drop);
  number("max_pose_success_drop", &nightly.max_pose_success_drop);
  number("success_threshold", &nightly.success_threshold);
  if (const MapEntry* e = FindEntry(*entries, "pass_if_ci_includes_zero")) {
    if (auto value = ReadBool(e->value, e->path, sink)) nightly.pass_if_ci_includes_zero = *value;
  }
  spec.nightly = nightly;
}

void ReadScore(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink) {
  auto entries = ReadMap(entry.value, entry.path, {"metric"}, sink);
  if (!entries) return;
  ScoreSpec score{"cosine"};
  if (const MapEntry* e = FindEntry(*entries, "metric")) {
    auto metric = ReadString(e->value, e->path, false, sink);
    if (!metric) return;
    if (*metric != "cosine" && *metric != "euclidean") {
      sink.Add(e->value, e->path, "unknown metric '" + *metric + "'; expected cosine or euclidean");
      return;
    }
    score.metric = *metric;
  }
  spec.score = score;
}

// The place a parameter was written, grid first.
const MapEntry* PlaceOf(const ParamPlaces& places, const std::string& name) {
  if (auto it = places.grid.find(name); it != places.grid.end()) return &it->second;
  if (auto it = places.fixed.find(name); it != places.fixed.end()) return &it->second;
  return nullptr;
}

// A LoRA comes from train: or from loras:, never both; lora and lora_weight need one.
void CheckLoraSources(const std::vector<MapEntry>& entries, const ParamPlaces& places,
                      const SweepSpec& spec, DiagnosticSink& sink) {
  const MapEntry* train = FindEntry(entries, "train");
  const MapEntry* loras = FindEntry(entries, "loras");
  if (train != nullptr && loras != nullptr) {
    sink.Add(loras->key_node, loras->path,
             "given together with train: (line " + std::to_string(train->key_node.Mark().line + 1) +
                 "); expected one or the other: train: to render with the LoRA this sweep "
                 "trains, loras: to render with existing LoRA files");
  }
  if (const MapEntry* w = PlaceOf(places, "lora_weight"); w && !train && !loras) {
    sink.Add(w->key_node, w->path,
             "lora_weight without a train: section or a loras: section; expected a train: "
             "section that produces the LoRA or a loras: section naming LoRA files");
  }
  const MapEntry* lora = PlaceOf(places, "lora");
  if (lora != nullptr && loras == nullptr) {
    sink.Add(lora->key_node, lora->path,
             "lora names an entry of loras: but the spec has no loras: section; expected "
             "loras: {NAME: {path: FILE.safetensors}} naming the LoRA files");
  }
  const MapEntry* render = FindEntry(entries, "render");
  if (lora == nullptr && spec.loras.size() > 1 && render != nullptr && render->value.IsMap()) {
    std::vector<std::string> names;
    for (const auto& [name, ref] : spec.loras) names.push_back(name);
    ReportMissing(render->value, KeyPath(render->path, "lora"),
                  "lora: in render: (or a list in grid:) naming one of the " +
                      std::to_string(names.size()) + " entries of loras: " + JoinNames(names),
                  sink);
  }
}

// Checks that need several sections, then fills defaults.
void CrossCheck(const std::vector<MapEntry>& entries, const ParamPlaces& places, SweepSpec& spec,
                DiagnosticSink& sink) {
  for (const auto& [name, grid_entry] : places.grid) {
    auto fixed = places.fixed.find(name);
    if (fixed == places.fixed.end()) continue;
    sink.Add(grid_entry.key_node, grid_entry.path,
             "'" + name + "' is set in both render: (line " +
                 std::to_string(fixed->second.key_node.Mark().line + 1) +
                 ") and grid:; expected it in one place");
    spec.fixed.erase(name);
  }
  const MapEntry* render = FindEntry(entries, "render");
  auto missing_param = [&](const std::string& name, const std::string& expected) {
    if (render != nullptr && render->value.IsMap() && !PlaceOf(places, name)) {
      ReportMissing(render->value, KeyPath(render->path, name), expected, sink);
    }
  };
  missing_param("prompt",
                "a prompt template in render: (or a list in grid:), e.g. "
                "'photo of {token}, studio portrait'");
  missing_param("sampler", "a sampler in render: or grid:, e.g. 'DPM++ 2M Karras'");

  CheckLoraSources(entries, places, spec, sink);
  bool has_img2img = std::any_of(spec.stages.begin(), spec.stages.end(),
                                 [](const StageSettings& s) { return s.kind == "img2img"; });
  if (const MapEntry* d = PlaceOf(places, "denoise"); d && !has_img2img) {
    sink.Add(d->key_node, d->path,
             "denoise sets the img2img stage's strength but the pipeline "
             "has no img2img stage; expected an img2img stage");
  }
  bool has_tone = PlaceOf(places, "tone") != nullptr;
  bool has_pose = PlaceOf(places, "pose") != nullptr;
  bool tone_stage = std::any_of(spec.stages.begin(), spec.stages.end(),
                                [](const StageSettings& s) { return s.kind == "tone"; });
  if (tone_stage && !has_tone) {
    const MapEntry* pipeline = FindEntry(entries, "pipeline");
    sink.Add(pipeline->value, pipeline->path,
             "the pipeline has a tone stage but no tone is chosen; expected tone: in render: "
             "or grid:");
  }
  std::vector<std::pair<const MapEntry*, std::string>> templates;
  if (auto it = spec.fixed.find("prompt"); it != spec.fixed.end()) {
    templates.emplace_back(&places.fixed.at("prompt"), std::get<std::string>(it->second));
  }
  if (auto it = places.fixed.find("negative_prompt"); it != places.fixed.end()) {
    templates.emplace_back(&it->second, spec.negative_prompt);
  }
  for (const GridParam& p : spec.grid) {
    if (p.name != "prompt") continue;
    for (const GridValue& v : p.values) {
      templates.emplace_back(&places.grid.at("prompt"), std::get<std::string>(v));
    }
  }
  for (const auto& [place, text] : templates) {
    for (const std::string& used : ScanTemplate(text).used) {
      if ((used == "tone" && !has_tone) || (used == "pose" && !has_pose)) {
        sink.Add(place->value, place->path,
                 "the template uses {" + used + "} but no " + used + " is chosen; expected " +
                     used + ": in render: or grid:");
      }
    }
  }
  // Defaults for what a render needs and the spec left out.
  auto fill = [&](const std::string& name, GridValue value) {
    if (!PlaceOf(places, name)) spec.fixed.emplace(name, std::move(value));
  };
  fill("steps", std::int64_t{25});
  fill("cfg", 7.0);
  fill("clip_skip", std::int64_t{1});
  fill("size", std::string("512x768"));
  if (spec.train || !spec.loras.empty()) fill("lora_weight", 1.0);
  if (spec.loras.size() == 1) fill("lora", spec.loras.begin()->first);
}

void CheckNotEmpty(const std::vector<MapEntry>& entries, const SweepSpec& spec,
                   DiagnosticSink& sink) {
  auto count = CountJobs(spec);
  if (!count.ok()) {
    sink.Add(YAML::Mark::null_mark(), "grid", count.status().message());
  } else if (count->render == 0) {
    const MapEntry* exclude = FindEntry(entries, "exclude");
    sink.Add(exclude->value, exclude->path,
             "every combination is excluded; expected at least one render to remain");
  }
}

}  // namespace

SpecCheck CheckSweepSpec(std::string_view yaml, std::string_view file_name,
                         const SpecPresets& presets) {
  DiagnosticSink sink{std::string(file_name)};
  SweepSpec spec;
  spec.file_name = std::string(file_name);
  spec.tones = presets.tones;
  try {
    std::optional<YAML::Node> root = LoadDocument(yaml, sink);
    std::optional<std::vector<MapEntry>> entries;
    if (root) entries = ReadMap(*root, "", RootKeys(), sink);
    if (entries) {
      ReadTopScalars(*entries, *root, spec, sink);
      if (const MapEntry* e = FindEntry(*entries, "tones")) {
        if (auto tones = ReadTones(e->value, e->path, presets.tones, sink)) spec.tones = *tones;
      }
      auto section = [&](const char* key, bool required, const char* expected, auto read) {
        if (const MapEntry* e = FindEntry(*entries, key)) {
          read(*e);
        } else if (required) {
          ReportMissing(*root, key, expected, sink);
        }
      };
      ParamPlaces places;
      section("identity", true, "identity: {name, photos, token}",
              [&](const MapEntry& e) { ReadIdentity(e, spec, sink); });
      section("checkpoint", true, "checkpoint: {path, sha256}",
              [&](const MapEntry& e) { ReadCheckpoint(e, spec, sink); });
      section("vae", false, "", [&](const MapEntry& e) { ReadVae(e, spec, sink); });
      section("embeddings", false, "", [&](const MapEntry& e) { ReadEmbeddings(e, spec, sink); });
      section("train", false, "", [&](const MapEntry& e) { ReadTrain(e, spec, sink); });
      section("loras", false, "", [&](const MapEntry& e) { ReadLoras(e, spec, sink); });
      section("render", true, "render: {prompt, seeds, sampler, ...}",
              [&](const MapEntry& e) { ReadRender(e, spec, places, sink); });
      section("grid", false, "", [&](const MapEntry& e) { ReadGrid(e, spec, places, sink); });
      section("zip", false, "", [&](const MapEntry& e) { ReadZip(e, places, spec, sink); });
      if (FindEntry(*entries, "grid")) CheckGridDuplicates(places, spec, sink);
      section("exclude", false, "", [&](const MapEntry& e) { ReadExclude(e, places, spec, sink); });
      section("pipeline", false, "", [&](const MapEntry& e) {
        if (auto stages = ReadPipeline(e.value, e.path, presets.pipelines, sink)) {
          spec.stages = *stages;
        }
      });
      section("score", false, "", [&](const MapEntry& e) { ReadScore(e, spec, sink); });
      section("nightly", false, "", [&](const MapEntry& e) { ReadNightly(e, spec, sink); });
      section("search", false, "", [&](const MapEntry& e) {
        ReadSearch(e, spec, sink);
        CheckSearch(e, spec, sink);
      });
      CrossCheck(*entries, places, spec, sink);
      if (sink.size() == 0) CheckNotEmpty(*entries, spec, sink);
    }
  } catch (const YAML::Exception& e) {
    sink.Add(e.mark, "", "YAML error: " + e.msg);
  }
  SpecCheck check;
  check.diagnostics = sink.Take();
  if (check.diagnostics.empty()) check.spec = std::move(spec);
  return check;
}

StatusOr<SweepSpec> ParseSweepSpec(std::string_view yaml, std::string_view file_name,
                                   const SpecPresets& presets) {
  SpecCheck check = CheckSweepSpec(yaml, file_name, presets);
  if (!check.spec) return DiagnosticsToStatus(check.diagnostics);
  return std::move(*check.spec);
}

}  // namespace farm::sweep
