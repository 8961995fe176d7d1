// grid:, zip: and exclude: sections.
#include <algorithm>

#include "render_param_table.h"
#include "spec_sections.h"
#include "suggest.h"

namespace farm::sweep {
namespace {

std::vector<std::string> Texts(const std::vector<GridValue>& values) {
  std::vector<std::string> texts;
  for (const GridValue& v : values) texts.push_back(GridValueText(v));
  return texts;
}

const GridParam* FindParam(const std::vector<GridParam>& params, const std::string& name) {
  for (const GridParam& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::vector<std::string> GridNames(const ParamPlaces& places) {
  std::vector<std::string> names;
  for (const auto& [name, entry] : places.grid) names.push_back(name);
  return names;
}

// Values of `sampler: {by: tone}` without `values:`: each tone's preset samplers.
bool FillSamplersFromTones(const MapEntry& e, const GridParam& parent, const TonePresets& tones,
                           GridParam& param, DiagnosticSink& sink) {
  bool ok = true;
  for (const GridValue& tone : parent.values) {
    const std::string& name = std::get<std::string>(tone);
    std::vector<GridValue> samplers;
    for (const std::string& s : tones.at(name).samplers) samplers.push_back(s);
    if (samplers.empty()) {
      sink.Add(e.value, e.path,
               "tone '" + name +
                   "' has no samplers in its preset; expected values: with a "
                   "list of samplers for it");
      ok = false;
    }
    param.values_by_parent.push_back(std::move(samplers));
  }
  return ok;
}

std::optional<GridParam> ReadDependent(const MapEntry& e, const std::vector<GridParam>& grid,
                                       const ParamPlaces& places, const SweepSpec& spec,
                                       DiagnosticSink& sink) {
  auto entries = ReadMap(e.value, e.path, {"by", "values"}, sink);
  if (!entries) return std::nullopt;
  const MapEntry* by = FindEntry(*entries, "by");
  if (by == nullptr) {
    ReportMissing(e.value, KeyPath(e.path, "by"), "the grid parameter these values depend on",
                  sink);
    return std::nullopt;
  }
  auto parent_name = ReadString(by->value, by->path, false, sink);
  if (!parent_name) return std::nullopt;
  std::vector<std::string> others = GridNames(places);
  others.erase(std::remove(others.begin(), others.end(), e.key), others.end());
  if (*parent_name == e.key) {
    sink.Add(
        by->value, by->path,
        "'" + e.key + "' cannot depend on itself; expected another grid parameter" +
            (others.empty() ? std::string(" (the grid has no other)") : ": " + JoinNames(others)));
    return std::nullopt;
  }
  auto place = places.grid.find(*parent_name);
  if (place == places.grid.end()) {
    sink.Add(by->value, by->path,
             "'" + *parent_name + "' is not a grid parameter; expected one of: " +
                 JoinNames(others) + DidYouMean(*parent_name, others));
    return std::nullopt;
  }
  if (place->second.value.IsMap()) {
    sink.Add(by->value, by->path,
             "'" + *parent_name +
                 "' itself depends on another parameter; expected an "
                 "independent grid parameter (chains are not supported)");
    return std::nullopt;
  }
  const GridParam* parent = FindParam(grid, *parent_name);
  if (parent == nullptr) return std::nullopt;  // the parent's own error is reported
  GridParam param;
  param.name = e.key;
  param.by = *parent_name;
  const MapEntry* values = FindEntry(*entries, "values");
  if (values == nullptr) {
    if (e.key == "sampler" && param.by == "tone") {
      if (!FillSamplersFromTones(e, *parent, spec.tones, param, sink)) return std::nullopt;
      return param;
    }
    ReportMissing(e.value, KeyPath(e.path, "values"),
                  "a list of values for each value of grid." + param.by, sink);
    return std::nullopt;
  }
  auto keyed = ReadMap(values->value, values->path, {}, sink);
  if (!keyed) return std::nullopt;
  std::size_t errors_before = sink.size();
  param.values_by_parent.resize(parent->values.size());
  std::vector<bool> given(parent->values.size(), false);
  const ParamInfo& parent_info = *FindRenderParam(parent->name);
  for (const MapEntry& k : *keyed) {
    auto key = ReadRenderParamValue(parent_info, k.key_node, k.path, spec, sink);
    if (!key) continue;
    auto it = std::find_if(parent->values.begin(), parent->values.end(),
                           [&](const GridValue& v) { return SameGridValue(v, *key); });
    if (it == parent->values.end()) {
      std::vector<std::string> texts = Texts(parent->values);
      sink.Add(k.key_node, k.path,
               "'" + GridValueText(*key) + "' is not among grid." + parent->name +
                   "'s values; expected one of: " + JoinNames(texts) +
                   DidYouMean(GridValueText(*key), texts));
      continue;
    }
    std::size_t index = it - parent->values.begin();
    auto list = ReadParamValues(e.key, k.value, k.path, spec, true, sink);
    if (!list) continue;
    param.values_by_parent[index] = std::move(*list);
    given[index] = true;
  }
  if (sink.size() != errors_before) return std::nullopt;
  for (std::size_t i = 0; i < given.size(); ++i) {
    if (!given[i]) {
      sink.Add(values->value, values->path,
               "no values for " + parent->name + " '" + GridValueText(parent->values[i]) +
                   "'; expected an entry for each of: " + JoinNames(Texts(parent->values)));
      return std::nullopt;
    }
  }
  return param;
}

// A grid name for zip/exclude: reports unknown names; nullptr also when the parameter
// had its own error (already reported, so nothing more is said).
const GridParam* LookUpGridName(const YAML::Node& node, const std::string& path,
                                const std::string& name, const ParamPlaces& places,
                                const SweepSpec& spec, const std::vector<std::string>& extra,
                                DiagnosticSink& sink) {
  if (!places.grid.contains(name)) {
    std::vector<std::string> names = GridNames(places);
    names.insert(names.end(), extra.begin(), extra.end());
    std::string why = places.fixed.contains(name) ? "is fixed in render:, not swept in grid:"
                                                  : "is not a grid parameter";
    sink.Add(node, path,
             "'" + name + "' " + why + "; expected one of: " + JoinNames(names) +
                 DidYouMean(name, names));
    return nullptr;
  }
  return FindParam(spec.grid, name);
}

}  // namespace

void ReadGrid(const MapEntry& entry, SweepSpec& spec, ParamPlaces& places, DiagnosticSink& sink) {
  auto entries = ReadMap(entry.value, entry.path, RenderParamNames(), sink);
  if (!entries) return;
  std::vector<GridParam> independent;
  for (const MapEntry& e : *entries) {
    places.grid.emplace(e.key, e);
    if (e.value.IsMap()) continue;
    if (auto values = ReadParamValues(e.key, e.value, e.path, spec, false, sink)) {
      independent.push_back({e.key, std::move(*values), "", {}});
    }
  }
  std::vector<GridParam> dependent;
  for (const MapEntry& e : *entries) {
    if (!e.value.IsMap()) continue;
    if (auto param = ReadDependent(e, independent, places, spec, sink)) {
      dependent.push_back(std::move(*param));
    }
  }
  // Declaration order, except that a dependent declared before its parent waits for it
  // (enumeration needs the parent's value first).
  std::vector<const GridParam*> waiting;
  for (const MapEntry& e : *entries) {
    if (const GridParam* p = FindParam(independent, e.key)) {
      spec.grid.push_back(*p);
      for (const GridParam* d : waiting) {
        if (d->by == e.key) spec.grid.push_back(*d);
      }
    } else if (const GridParam* d = FindParam(dependent, e.key)) {
      if (FindParam(spec.grid, d->by) != nullptr) {
        spec.grid.push_back(*d);
      } else {
        waiting.push_back(d);
      }
    }
  }
}

void ReadZip(const MapEntry& entry, const ParamPlaces& places, SweepSpec& spec,
             DiagnosticSink& sink) {
  auto groups = ReadList(entry.value, entry.path, false, false, sink);
  if (!groups) return;
  std::map<std::string, std::size_t> group_of;
  for (std::size_t g = 0; g < groups->size(); ++g) {
    const ListItem& group_item = (*groups)[g];
    auto names = ReadList(group_item.node, group_item.path, false, false, sink);
    if (!names) continue;
    std::vector<std::string> group;
    std::vector<const GridParam*> params;
    bool ok = true;
    for (const ListItem& item : *names) {
      auto name = ReadString(item.node, item.path, false, sink);
      if (!name) {
        ok = false;
        continue;
      }
      const GridParam* param = LookUpGridName(item.node, item.path, *name, places, spec, {}, sink);
      if (param == nullptr) {
        ok = false;
      } else if (!param->by.empty()) {
        sink.Add(item.node, item.path,
                 "'" + *name + "' depends on '" + param->by +
                     "' and cannot be zipped; expected independent grid parameters");
        ok = false;
      } else if (group_of.contains(*name)) {
        sink.Add(item.node, item.path,
                 "'" + *name + "' is already in zip group " + std::to_string(group_of[*name]) +
                     "; expected each parameter in at most one group");
        ok = false;
      } else {
        group_of[*name] = g;
        group.push_back(*name);
        params.push_back(param);
      }
    }
    if (!ok) continue;
    if (group.size() < 2) {
      sink.Add(group_item.node, group_item.path,
               "a zip group of one parameter; expected at least two parameters that vary "
               "together");
      continue;
    }
    bool equal = std::all_of(params.begin(), params.end(), [&](const GridParam* p) {
      return p->values.size() == params[0]->values.size();
    });
    if (!equal) {
      std::string sizes;
      for (const GridParam* p : params) {
        sizes += (sizes.empty() ? "" : ", ") + p->name + " has " + std::to_string(p->values.size());
      }
      sink.Add(group_item.node, group_item.path,
               "zip group has unequal lengths (" + sizes +
                   "); expected the same number of values in each");
      continue;
    }
    spec.zip.push_back(std::move(group));
  }
}

void CheckGridDuplicates(const ParamPlaces& places, const SweepSpec& spec, DiagnosticSink& sink) {
  auto item_node = [&](const std::string& name, std::size_t i) {
    const MapEntry& entry = places.grid.at(name);
    return std::make_pair(entry.value.IsSequence() ? entry.value[i] : entry.value,
                          entry.value.IsSequence() ? IndexPath(entry.path, i) : entry.path);
  };
  for (const GridParam& p : spec.grid) {
    if (!p.by.empty()) continue;
    const std::vector<std::string>* group = nullptr;
    for (const auto& z : spec.zip) {
      if (std::find(z.begin(), z.end(), p.name) != z.end()) group = &z;
    }
    if (group != nullptr && group->front() != p.name) continue;  // checked with the group
    std::vector<const GridParam*> members = {&p};
    if (group != nullptr) {
      members.clear();
      for (const std::string& name : *group) members.push_back(FindParam(spec.grid, name));
    }
    for (std::size_t i = 1; i < p.values.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        bool same = std::all_of(members.begin(), members.end(), [&](const GridParam* m) {
          return SameGridValue(m->values[i], m->values[j]);
        });
        if (!same) continue;
        auto [node, path] = item_node(p.name, i);
        std::string what = "duplicate value " + GridValueText(p.values[i]);
        if (group != nullptr) {
          what = "the zip group's values at positions " + std::to_string(j) + " and " +
                 std::to_string(i) + " are the same";
        }
        sink.Add(node, path, what + "; expected each value once");
        break;
      }
    }
  }
}

void ReadExclude(const MapEntry& entry, const ParamPlaces& places, SweepSpec& spec,
                 DiagnosticSink& sink) {
  auto rules = ReadList(entry.value, entry.path, false, false, sink);
  if (!rules) return;
  std::vector<std::string> extra;
  if (spec.train) extra.push_back("lora_step");
  for (const ListItem& rule_item : *rules) {
    auto entries = ReadMap(rule_item.node, rule_item.path, {}, sink);
    if (!entries) continue;
    if (entries->empty()) {
      sink.Add(rule_item.node, rule_item.path,
               "empty exclusion; expected parameter: value pairs such as {tone: cool, cfg: 9}");
      continue;
    }
    std::size_t errors_before = sink.size();
    ExcludeRule rule;
    for (const MapEntry& e : *entries) {
      std::vector<GridValue> domain;
      const ParamInfo* info = nullptr;
      if (e.key == "lora_step" && spec.train) {
        for (int step : spec.train->steps) {
          domain.emplace_back(std::in_place_type<std::int64_t>, step);
        }
      } else {
        const GridParam* param =
            LookUpGridName(e.key_node, e.path, e.key, places, spec, extra, sink);
        if (param == nullptr) continue;
        info = FindRenderParam(e.key);
        domain = param->values;
        for (const auto& list : param->values_by_parent) {
          for (const GridValue& v : list) {
            bool seen = std::any_of(domain.begin(), domain.end(),
                                    [&](const GridValue& d) { return SameGridValue(d, v); });
            if (!seen) domain.push_back(v);
          }
        }
      }
      auto items = ReadList(e.value, e.path, true, false, sink);
      if (!items) continue;
      std::vector<GridValue> values;
      for (const ListItem& item : *items) {
        std::optional<GridValue> value;
        if (info != nullptr) {
          value = ReadRenderParamValue(*info, item.node, item.path, spec, sink);
        } else if (auto step = ReadInt(item.node, item.path, {1, 100000}, sink)) {
          value = *step;
        }
        if (!value) continue;
        bool known = std::any_of(domain.begin(), domain.end(),
                                 [&](const GridValue& d) { return SameGridValue(d, *value); });
        if (!known) {
          std::vector<std::string> texts = Texts(domain);
          sink.Add(item.node, item.path,
                   GridValueText(*value) + " never occurs in the sweep; expected one of: " +
                       JoinNames(texts) + DidYouMean(GridValueText(*value), texts));
          continue;
        }
        values.push_back(*value);
      }
      rule.match.emplace_back(e.key, std::move(values));
    }
    if (sink.size() == errors_before) spec.exclude.push_back(std::move(rule));
  }
}

}  // namespace farm::sweep
