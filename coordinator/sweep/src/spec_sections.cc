// identity:, checkpoint:, train:, loras: and render: sections.
#include "spec_sections.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>

#include "render_param_table.h"
#include "suggest.h"

namespace farm::sweep {
namespace {

constexpr double kMaxSeed = 9007199254740991.0;  // 2^53 - 1: exact in JSON numbers

bool IsIdentifier(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

bool IsSha256Hex(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Reads a scalar-or-list of numbers into `out` (replacing its default); reports
// duplicates. `read` reads one item.
template <typename T, typename ReadOne>
void ReadNumberList(const MapEntry& e, std::vector<T>& out, DiagnosticSink& sink, ReadOne read) {
  auto items = ReadList(e.value, e.path, /*allow_scalar=*/true, /*allow_empty=*/false, sink);
  if (!items) return;
  std::vector<T> values;
  for (const ListItem& item : *items) {
    auto v = read(item);
    if (!v) continue;
    if (std::find(values.begin(), values.end(), static_cast<T>(*v)) != values.end()) {
      sink.Add(
          item.node, item.path,
          "duplicate value " + NumberText(static_cast<double>(*v)) + "; expected each value once");
      continue;
    }
    values.push_back(static_cast<T>(*v));
  }
  if (!values.empty()) out = std::move(values);
}

}  // namespace

void ReadSeeds(const MapEntry& e, SweepSpec& spec, DiagnosticSink& sink) {
  if (e.value.IsMap()) {
    auto entries = ReadMap(e.value, e.path, {"base", "count"}, sink);
    if (!entries) return;
    std::optional<std::int64_t> base = 0, count;
    if (const MapEntry* b = FindEntry(*entries, "base")) {
      base = ReadInt(b->value, b->path, {0, kMaxSeed}, sink);
    }
    if (const MapEntry* c = FindEntry(*entries, "count")) {
      count = ReadInt(c->value, c->path, {1, 1000000}, sink);
    } else {
      ReportMissing(e.value, KeyPath(e.path, "count"), "how many seeds, e.g. count: 8", sink);
    }
    if (!base || !count) return;
    if (static_cast<double>(*base + *count - 1) > kMaxSeed) {
      sink.Add(e.value, e.path, "base + count - 1 exceeds 2^53 - 1; expected smaller seeds");
      return;
    }
    for (std::int64_t i = 0; i < *count; ++i) spec.seeds.push_back(*base + i);
    return;
  }
  std::vector<std::int64_t> seeds;
  ReadNumberList(e, seeds, sink, [&](const ListItem& item) {
    return ReadInt(item.node, item.path, {0, kMaxSeed}, sink);
  });
  spec.seeds.assign(seeds.begin(), seeds.end());
}

std::optional<ModelRef> ReadModelRef(const YAML::Node& node, const std::string& path,
                                     const std::vector<std::string>& extra_keys,
                                     DiagnosticSink& sink) {
  ModelRef ref;
  if (node.IsScalar()) {
    auto text = ReadString(node, path, false, sink);
    if (!text) return std::nullopt;
    ref.path = *text;
    return ref;
  }
  std::vector<std::string> known = {"path", "sha256"};
  known.insert(known.end(), extra_keys.begin(), extra_keys.end());
  auto entries = ReadMap(node, path, known, sink);
  if (!entries) return std::nullopt;
  std::size_t errors_before = sink.size();
  if (const MapEntry* p = FindEntry(*entries, "path")) {
    if (auto text = ReadString(p->value, p->path, false, sink)) ref.path = *text;
  }
  if (const MapEntry* s = FindEntry(*entries, "sha256")) {
    if (auto text = ReadString(s->value, s->path, false, sink)) {
      if (IsSha256Hex(*text)) {
        ref.sha256 = *text;
      } else {
        sink.Add(s->value, s->path,
                 "'" + *text + "' is not a SHA-256; expected 64 lower-case hex digits");
      }
    }
  }
  if (!FindEntry(*entries, "path") && !FindEntry(*entries, "sha256")) {
    ReportMissing(node, KeyPath(path, "path"), "a path, a sha256, or both", sink);
  }
  if (sink.size() != errors_before) return std::nullopt;
  return ref;
}

std::optional<std::vector<GridValue>> ReadParamValues(const std::string& name,
                                                      const YAML::Node& node,
                                                      const std::string& path,
                                                      const SweepSpec& spec, bool report_duplicates,
                                                      DiagnosticSink& sink) {
  const ParamInfo* info = FindRenderParam(name);
  auto items = ReadList(node, path, /*allow_scalar=*/true, /*allow_empty=*/false, sink);
  if (!items || info == nullptr) return std::nullopt;
  std::size_t errors_before = sink.size();
  std::vector<GridValue> values;
  for (const ListItem& item : *items) {
    auto value = ReadRenderParamValue(*info, item.node, item.path, spec, sink);
    if (!value) continue;
    bool seen = std::any_of(values.begin(), values.end(),
                            [&](const GridValue& v) { return SameGridValue(v, *value); });
    if (seen && report_duplicates) {
      sink.Add(item.node, item.path,
               "duplicate value " + GridValueText(*value) + "; expected each value once");
      continue;
    }
    values.push_back(*value);
  }
  if (sink.size() != errors_before) return std::nullopt;
  return values;
}

void ReadIdentity(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink) {
  auto entries = ReadMap(entry.value, entry.path, {"name", "photos", "token", "pick"}, sink);
  if (!entries) return;
  if (const MapEntry* e = FindEntry(*entries, "name")) {
    auto name = ReadString(e->value, e->path, false, sink);
    if (name && !IsIdentifier(*name)) {
      sink.Add(e->value, e->path,
               "bad identity name '" + *name + "'; expected letters, digits, '_', '-', '.'");
    } else if (name) {
      spec.identity.name = *name;
    }
  } else {
    ReportMissing(entry.value, KeyPath(entry.path, "name"), "the identity's name", sink);
  }
  if (const MapEntry* e = FindEntry(*entries, "photos")) {
    if (auto items = ReadList(e->value, e->path, true, false, sink)) {
      for (const ListItem& item : *items) {
        if (auto glob = ReadString(item.node, item.path, false, sink)) {
          spec.identity.photos.push_back(*glob);
        }
      }
    }
  } else {
    ReportMissing(entry.value, KeyPath(entry.path, "photos"),
                  "a glob of the identity's photos, e.g. photos/alice/*.jpg", sink);
  }
  if (const MapEntry* e = FindEntry(*entries, "token")) {
    if (auto token = ReadString(e->value, e->path, false, sink)) spec.identity.token = *token;
  } else {
    ReportMissing(entry.value, KeyPath(entry.path, "token"),
                  "the instance token, e.g. 'sks person'", sink);
  }
  if (const MapEntry* e = FindEntry(*entries, "pick")) {
    if (auto pick = ReadString(e->value, e->path, false, sink)) {
      if (*pick == "largest") {
        spec.identity.pick_largest = true;
      } else {
        sink.Add(e->value, e->path, "unknown pick '" + *pick + "'; expected largest");
      }
    }
  }
}

void ReadCheckpoint(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink) {
  if (auto ref = ReadModelRef(entry.value, entry.path, {}, sink)) spec.checkpoint = *ref;
}

void ReadVae(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink) {
  if (auto ref = ReadModelRef(entry.value, entry.path, {}, sink)) spec.vae = *ref;
}

void ReadEmbeddings(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink) {
  auto items = ReadList(entry.value, entry.path, /*allow_scalar=*/false, /*allow_empty=*/false, sink);
  if (!items) return;
  std::map<std::string, std::string> seen;  // name -> path of its item
  for (const ListItem& item : *items) {
    EmbeddingSpec embedding;
    const std::size_t errors_before = sink.size();
    const YAML::Node& node = item.node;
    if (node.IsMap() && node["folder"]) {
      auto entries = ReadMap(item.node, item.path, {"folder"}, sink);
      if (!entries) continue;
      const MapEntry* folder = FindEntry(*entries, "folder");
      if (auto text = ReadString(folder->value, folder->path, false, sink)) {
        embedding.folder = *text;
        spec.embeddings.push_back(std::move(embedding));
      }
      continue;
    }
    auto ref = ReadModelRef(item.node, item.path, {"name"}, sink);
    if (!ref) continue;
    embedding.file = *ref;
    // Looked up on a const node: a mutable operator[] would add the key to the document.
    const YAML::Node& item_node = item.node;
    const bool has_name = item_node.IsMap() && item_node["name"];
    const YAML::Node name_node = has_name ? item_node["name"] : item_node;
    if (has_name) {
      if (auto name = ReadString(name_node, KeyPath(item.path, "name"), false, sink)) embedding.name = *name;
    } else if (!ref->path.empty()) {
      // A1111 names an embedding by its file name without the extension.
      embedding.name = std::filesystem::path(ref->path).stem().string();
    } else {
      ReportMissing(item.node, KeyPath(item.path, "name"),
                    "the word that calls the embedding in a prompt (a sha256 alone has no file name)", sink);
    }
    if (sink.size() != errors_before || embedding.name.empty()) continue;
    const bool spaced = std::isspace(static_cast<unsigned char>(embedding.name.front())) ||
                        std::isspace(static_cast<unsigned char>(embedding.name.back()));
    if (spaced || embedding.name.find(',') != std::string::npos) {
      sink.Add(name_node, item.path,
               "bad embedding name '" + embedding.name + "'; expected a word without commas or outer spaces");
      continue;
    }
    if (auto [it, added] = seen.emplace(embedding.name, item.path); !added) {
      sink.Add(name_node, item.path,
               "embedding name '" + embedding.name + "' also names " + it->second + "; expected each name once");
      continue;
    }
    spec.embeddings.push_back(std::move(embedding));
  }
}

void ReadTrain(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink) {
  auto entries = ReadMap(
      entry.value, entry.path,
      {"steps", "rank", "alpha", "learning_rate", "batch_size", "resolution", "seed", "ranks", "extra"},
      sink);
  if (!entries) return;
  TrainSpec train;
  TrainParams defaults;
  train.rank = {defaults.rank};
  train.alpha = {defaults.alpha};
  train.learning_rate = {defaults.learning_rate};
  train.batch_size = {defaults.batch_size};
  train.resolution = {defaults.resolution};
  train.seed = {defaults.seed};
  auto ints = [&](const MapEntry& e, std::vector<int>& out, Range range) {
    ReadNumberList(e, out, sink, [&](const ListItem& item) {
      return ReadInt(item.node, item.path, range, sink);
    });
  };
  auto numbers = [&](const MapEntry& e, std::vector<double>& out, Range range) {
    ReadNumberList(e, out, sink, [&](const ListItem& item) {
      return ReadNumber(item.node, item.path, range, sink);
    });
  };
  for (const MapEntry& e : *entries) {
    if (e.key == "steps") {
      ints(e, train.steps, {1, 100000});
    } else if (e.key == "rank") {
      ints(e, train.rank, {1, 1024});
    } else if (e.key == "alpha") {
      numbers(e, train.alpha, {0, 1024, true});
    } else if (e.key == "learning_rate") {
      numbers(e, train.learning_rate, {0, 1, true, true});
    } else if (e.key == "batch_size") {
      ints(e, train.batch_size, {1, 256});
    } else if (e.key == "resolution") {
      ints(e, train.resolution, {64, 2048});
      for (int r : train.resolution) {
        if (r % 8 != 0) {
          sink.Add(e.value, e.path,
                   "resolution " + std::to_string(r) +
                       " is not a multiple of 8; expected "
                       "a multiple of 8 such as 512");
        }
      }
    } else if (e.key == "seed") {
      std::vector<std::int64_t> seeds;
      ReadNumberList(e, seeds, sink, [&](const ListItem& item) {
        return ReadInt(item.node, item.path, {0, kMaxSeed}, sink);
      });
      if (!seeds.empty()) train.seed.assign(seeds.begin(), seeds.end());
    } else if (e.key == "ranks") {
      // One value, not a list: the ranks change how a run is launched, not what is swept.
      if (auto ranks = ReadInt(e.value, e.path, {1, 1024}, sink)) train.ranks = static_cast<int>(*ranks);
    } else if (e.key == "extra") {
      if (auto items = ReadMap(e.value, e.path, {}, sink)) {
        for (const MapEntry& item : *items) {
          if (auto v = ReadSettingValue(item.value, item.path, sink)) train.extra[item.key] = *v;
        }
      }
    }
  }
  if (!FindEntry(*entries, "steps")) {
    ReportMissing(entry.value, KeyPath(entry.path, "steps"),
                  "the step counts to save, e.g. steps: [800, 1600]", sink);
  }
  std::sort(train.steps.begin(), train.steps.end());
  spec.train = std::move(train);
}

void ReadLoras(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink) {
  auto entries = ReadMap(entry.value, entry.path, {}, sink);
  if (!entries) return;
  if (entries->empty()) {
    sink.Add(entry.value, entry.path,
             "no LoRA files; expected at least one entry such as "
             "face: {path: loras/face.safetensors}");
    return;
  }
  for (const MapEntry& e : *entries) {
    if (!IsIdentifier(e.key)) {
      sink.Add(e.key_node, e.path,
               "bad LoRA name '" + e.key + "'; expected letters, digits, '_', '-', '.'");
    }
    // Kept even when invalid, so that lora values naming it are not reported as unknown.
    ModelRef ref = ReadModelRef(e.value, e.path, {}, sink).value_or(ModelRef{});
    // Two names for one file would render everything twice under the same param_hash.
    for (const auto& [name, other] : spec.loras) {
      bool same_path = !ref.path.empty() && ref.path == other.path;
      bool same_hash = !ref.sha256.empty() && ref.sha256 == other.sha256;
      if (!same_path && !same_hash) continue;
      sink.Add(e.value, e.path,
               std::string(same_path ? "the same path" : "the same sha256") + " as loras." + name +
                   "; expected each LoRA file once");
      break;
    }
    spec.loras[e.key] = ref;
  }
}

void ReadRender(const MapEntry& entry, SweepSpec& spec, ParamPlaces& places, DiagnosticSink& sink) {
  std::vector<std::string> known = {"prompt", "negative_prompt", "seeds", "pose_control"};
  for (const std::string& name : RenderParamNames()) {
    if (name != "prompt") known.push_back(name);
  }
  auto entries = ReadMap(entry.value, entry.path, known, sink);
  if (!entries) return;
  for (const MapEntry& e : *entries) {
    if (e.key == "prompt" || e.key == "negative_prompt") {
      places.fixed.emplace(e.key, e);
      auto value = ReadRenderParamValue(*FindRenderParam("prompt"), e.value, e.path, spec, sink);
      if (!value) continue;
      if (e.key == "prompt") {
        spec.fixed["prompt"] = *value;
      } else {
        spec.negative_prompt = std::get<std::string>(*value);
      }
    } else if (e.key == "seeds") {
      ReadSeeds(e, spec, sink);
    } else if (e.key == "pose_control") {
      auto ref = ReadModelRef(e.value, e.path, {"weight"}, sink);
      if (!ref) continue;
      PoseControl control{*ref, 1.0};
      if (e.value.IsMap()) {
        if (auto weight_entries = ReadMap(e.value, e.path, {}, sink)) {
          if (const MapEntry* w = FindEntry(*weight_entries, "weight")) {
            auto weight = ReadNumber(w->value, w->path, {0, 2}, sink);
            if (weight) control.weight = *weight;
          }
        }
      }
      spec.pose_control = control;
    } else {
      places.fixed.emplace(e.key, e);
      auto value = ReadRenderParamValue(*FindRenderParam(e.key), e.value, e.path, spec, sink);
      if (value) spec.fixed[e.key] = *value;
    }
  }
  if (!FindEntry(*entries, "seeds")) {
    ReportMissing(entry.value, KeyPath(entry.path, "seeds"),
                  "seeds: a list, a number, or {base: 1000, count: 8}", sink);
  }
}

}  // namespace farm::sweep
