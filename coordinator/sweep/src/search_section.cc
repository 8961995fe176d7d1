// The search: section (successive halving) and the reader farmd uses to run a stored
// spec's search again without presets or files.
#include <algorithm>

#include "farm/sweep/halving.h"
#include "spec_sections.h"

namespace farm::sweep {
namespace {

const std::vector<std::string>& SearchKeys() {
  static const std::vector<std::string> kKeys = {"method", "seeds_per_rung", "keep", "metric"};
  return kKeys;
}

std::string RungsText(const std::vector<std::int64_t>& rungs) {
  std::string text;
  for (std::int64_t n : rungs) text += (text.empty() ? "" : ", ") + std::to_string(n);
  return "[" + text + "]";
}

}  // namespace

void ReadSearch(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink) {
  auto entries = ReadMap(entry.value, entry.path, SearchKeys(), sink);
  if (!entries) return;
  SearchSpec search;
  bool ok = true;
  if (const MapEntry* e = FindEntry(*entries, "method")) {
    auto method = ReadString(e->value, e->path, false, sink);
    if (method && *method != "halving") {
      sink.Add(e->value, e->path, "unknown search method '" + *method + "'; expected halving");
      ok = false;
    } else if (method) {
      search.method = *method;
    } else {
      ok = false;
    }
  } else {
    ReportMissing(entry.value, KeyPath(entry.path, "method"), "method: halving", sink);
    ok = false;
  }
  if (const MapEntry* e = FindEntry(*entries, "seeds_per_rung")) {
    auto items = ReadList(e->value, e->path, /*allow_scalar=*/false, /*allow_empty=*/false, sink);
    if (!items) {
      ok = false;
    } else {
      for (const ListItem& item : *items) {
        auto n = ReadInt(item.node, item.path, {1, 1000000}, sink);
        if (!n) {
          ok = false;
          continue;
        }
        if (!search.seeds_per_rung.empty() && *n <= search.seeds_per_rung.back()) {
          sink.Add(item.node, item.path,
                   "seeds per rung " + std::to_string(*n) + " after " +
                       std::to_string(search.seeds_per_rung.back()) +
                       "; expected cumulative counts that grow from rung to rung, e.g. [2, 4, 8]");
          ok = false;
          continue;
        }
        search.seeds_per_rung.push_back(*n);
      }
      if (ok && search.seeds_per_rung.size() < 2) {
        sink.Add(e->value, e->path,
                 "one rung is a plain grid; expected at least two rungs, e.g. [2, 4, 8]");
        ok = false;
      }
    }
  } else {
    ReportMissing(entry.value, KeyPath(entry.path, "seeds_per_rung"),
                  "seeds_per_rung: cumulative seeds per surviving cell, e.g. [2, 4, 8]", sink);
    ok = false;
  }
  if (const MapEntry* e = FindEntry(*entries, "keep")) {
    auto keep = ReadNumber(e->value, e->path, {0, 1, true, true}, sink);
    if (keep) {
      search.keep = *keep;
    } else {
      ok = false;
    }
  }
  search.metric = spec.score ? spec.score->metric : "cosine";
  if (const MapEntry* e = FindEntry(*entries, "metric")) {
    auto metric = ReadString(e->value, e->path, false, sink);
    if (metric && *metric != "cosine" && *metric != "euclidean") {
      sink.Add(e->value, e->path,
               "unknown metric '" + *metric +
                   "'; expected cosine (higher is better) or euclidean (lower is better)");
      ok = false;
    } else if (metric) {
      search.metric = *metric;
    } else {
      ok = false;
    }
  }
  if (ok) spec.search = std::move(search);
}

void CheckSearch(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink) {
  if (!spec.search) return;
  const SearchSpec& search = *spec.search;
  DiagnosticSink places{sink.file()};  // ReadSearch reported this map's problems already
  auto entries = ReadMap(entry.value, entry.path, {}, places);
  const MapEntry* rungs = entries ? FindEntry(*entries, "seeds_per_rung") : nullptr;
  const MapEntry* metric = entries ? FindEntry(*entries, "metric") : nullptr;
  if (!spec.seeds.empty() && search.seeds_per_rung.back() > static_cast<std::int64_t>(spec.seeds.size())) {
    sink.Add(rungs != nullptr ? rungs->value : entry.value,
             rungs != nullptr ? rungs->path : entry.path,
             "the last rung renders " + std::to_string(search.seeds_per_rung.back()) +
                 " seeds per cell but render.seeds has " + std::to_string(spec.seeds.size()) +
                 "; expected at most " + std::to_string(spec.seeds.size()) +
                 " (rung r renders the first seeds_per_rung[r] seeds, in the order given)");
  }
  if (spec.score && spec.score->metric != search.metric) {
    sink.Add(metric != nullptr ? metric->value : entry.value,
             metric != nullptr ? metric->path : entry.path,
             "the search ranks by " + search.metric + " but score: asks for " +
                 spec.score->metric + "; expected the same metric in both (or leave one out)");
  }
  // Ranking needs a score per render: a search scores with its own metric.
  if (!spec.score) spec.score = ScoreSpec{search.metric};
}

StatusOr<SearchPlan> ReadSearchPlan(std::string_view yaml, std::string_view file_name) {
  DiagnosticSink sink{std::string(file_name)};
  SweepSpec spec;
  try {
    std::optional<YAML::Node> root = LoadDocument(yaml, sink);
    std::optional<std::vector<MapEntry>> entries;
    if (root) entries = ReadMap(*root, "", {}, sink);
    if (entries) {
      const MapEntry* search = FindEntry(*entries, "search");
      if (search == nullptr) return NotFound(std::string(file_name) + " has no search: section");
      if (const MapEntry* score = FindEntry(*entries, "score")) {
        if (auto fields = ReadMap(score->value, score->path, {}, sink)) {
          if (const MapEntry* m = FindEntry(*fields, "metric")) {
            if (auto text = ReadString(m->value, m->path, false, sink)) spec.score = ScoreSpec{*text};
          }
        }
      }
      if (const MapEntry* render = FindEntry(*entries, "render")) {
        if (auto fields = ReadMap(render->value, render->path, {}, sink)) {
          if (const MapEntry* seeds = FindEntry(*fields, "seeds")) ReadSeeds(*seeds, spec, sink);
        }
      }
      ReadSearch(*search, spec, sink);
      if (sink.size() == 0 && spec.seeds.empty()) {
        ReportMissing(*root, "render.seeds", "the seeds the rungs draw from", sink);
      }
      if (sink.size() == 0) CheckSearch(*search, spec, sink);
    }
  } catch (const YAML::Exception& e) {
    sink.Add(e.mark, "", "YAML error: " + e.msg);
  }
  if (sink.size() > 0) return DiagnosticsToStatus(sink.Take());
  SearchPlan plan;
  plan.search = *spec.search;
  plan.seeds = spec.seeds;
  return plan;
}

std::string DescribeSearch(const SearchSpec& search) {
  return search.method + " over seeds per rung " + RungsText(search.seeds_per_rung) +
         ", keep " + NumberText(search.keep) + ", by " + search.metric;
}

}  // namespace farm::sweep
