// The readers of each section of a sweep spec; spec_parser.cc runs them in order and
// adds the checks that span sections. Each reader reports into the sink and fills the
// spec as far as the YAML allows, so that later sections can still be checked.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "farm/sweep/presets.h"
#include "farm/sweep/spec.h"
#include "yaml_reader.h"

namespace farm::sweep {

// Where each fixed or swept parameter was written, for cross-section messages.
struct ParamPlaces {
  std::map<std::string, MapEntry> fixed;  // render.<param>
  std::map<std::string, MapEntry> grid;   // grid.<param>
};

void ReadIdentity(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink);
void ReadCheckpoint(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink);
// vae: {path} or {sha256}, like checkpoint:.
void ReadVae(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink);
// embeddings: a list of paths or {name, path, sha256} (name defaults to the file's stem).
void ReadEmbeddings(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink);
void ReadTrain(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink);
// Before render: and grid:, whose lora values name its entries.
void ReadLoras(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink);
// render.seeds: a list, a number, or {base, count}.
void ReadSeeds(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink);
void ReadRender(const MapEntry& entry, SweepSpec& spec, ParamPlaces& places, DiagnosticSink& sink);
void ReadGrid(const MapEntry& entry, SweepSpec& spec, ParamPlaces& places, DiagnosticSink& sink);
// Need the grid read first.
void ReadZip(const MapEntry& entry, const ParamPlaces& places, SweepSpec& spec,
             DiagnosticSink& sink);
void ReadExclude(const MapEntry& entry, const ParamPlaces& places, SweepSpec& spec,
                 DiagnosticSink& sink);

// search: {method, seeds_per_rung, keep, metric} (search_section.cc); CheckSearch needs
// render.seeds and score: read first, and fills `score` from the search's metric.
void ReadSearch(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink);
void CheckSearch(const MapEntry& entry, SweepSpec& spec, DiagnosticSink& sink);

// A model reference: "path" shorthand or {path, sha256}; `extra_keys` are allowed too and
// returned for the caller to read (e.g. pose_control's weight).
std::optional<ModelRef> ReadModelRef(const YAML::Node& node, const std::string& path,
                                     const std::vector<std::string>& extra_keys,
                                     DiagnosticSink& sink);

// A grid parameter's values: a scalar or a list, each checked (names against the tones
// and loras of `spec`); duplicates reported when `report_duplicates` (zipped lists may
// repeat a value: see CheckGridDuplicates).
std::optional<std::vector<GridValue>> ReadParamValues(const std::string& name,
                                                      const YAML::Node& node,
                                                      const std::string& path,
                                                      const SweepSpec& spec, bool report_duplicates,
                                                      DiagnosticSink& sink);

// After zip: a repeated value of an unzipped parameter, or a repeated tuple of a zip
// group, would render the same thing twice.
void CheckGridDuplicates(const ParamPlaces& places, const SweepSpec& spec, DiagnosticSink& sink);

}  // namespace farm::sweep
