// Reading YAML with every problem collected as a Diagnostic instead of thrown.
//
// The only place besides the parsers that sees yaml-cpp; nothing here is public.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "farm/schemas/render_params.h"
#include "farm/sweep/diagnostic.h"

namespace farm::sweep {

// Collects diagnostics for one file.
class DiagnosticSink {
 public:
  explicit DiagnosticSink(std::string file) : file_(std::move(file)) {}

  void Add(const YAML::Mark& mark, std::string path, std::string message);
  // At the node's place; an empty value (`key:` with nothing after it) is placed at its
  // key, as yaml-cpp marks such a node where the next token starts.
  void Add(const YAML::Node& node, std::string path, std::string message);
  // Records where an empty value's key is (ReadMap does this).
  void PlaceEmptyValue(const YAML::Node& value, const YAML::Mark& key_mark);
  std::size_t size() const { return diagnostics_.size(); }
  const std::string& file() const { return file_; }

  // Every diagnostic, ordered by line and column (stable for equal places).
  std::vector<Diagnostic> Take();

 private:
  std::string file_;
  std::vector<Diagnostic> diagnostics_;
  std::vector<std::pair<YAML::Node, YAML::Mark>> empty_values_;
};

// "a.b", "b" when `path` is empty.
std::string KeyPath(const std::string& path, std::string_view key);
// "a[3]".
std::string IndexPath(const std::string& path, std::size_t index);

// What a node holds, for "got ..." in messages: "a list", "a mapping", "nothing", "'x'".
std::string DescribeNode(const YAML::Node& node);

// Parses one YAML document. A syntax error, an empty text or several documents give a
// diagnostic and nullopt. Never throws.
std::optional<YAML::Node> LoadDocument(std::string_view text, DiagnosticSink& sink);

struct MapEntry {
  std::string key;
  std::string path;  // key path of the value
  YAML::Node key_node;
  YAML::Node value;
};

// The entries of a mapping in document order. Reports a node that is not a mapping,
// duplicate keys (the later one is dropped) and, when `known` is not empty, keys not in
// `known` (with a suggestion; they are dropped too).
std::optional<std::vector<MapEntry>> ReadMap(const YAML::Node& node, const std::string& path,
                                             const std::vector<std::string>& known,
                                             DiagnosticSink& sink);

const MapEntry* FindEntry(const std::vector<MapEntry>& entries, std::string_view key);

// Reports "missing required key" at the mapping's place.
void ReportMissing(const YAML::Node& map_node, const std::string& path, std::string_view expected,
                   DiagnosticSink& sink);

// The items of a list with their paths. A scalar counts as a one-item list when
// `allow_scalar`. Reports other shapes and, when `allow_empty` is false, empty lists.
struct ListItem {
  YAML::Node node;
  std::string path;
};
std::optional<std::vector<ListItem>> ReadList(const YAML::Node& node, const std::string& path,
                                              bool allow_scalar, bool allow_empty,
                                              DiagnosticSink& sink);

// A closed or half-open interval for numbers; Describe() gives "a number in (0, 1]".
struct Range {
  double min;
  double max;
  bool min_open = false;
  bool max_open = false;
  bool Contains(double value) const;
  std::string Describe(bool integer) const;
};

// Typed scalars. Quoted YAML scalars are strings only. Each reports wrong types and
// values outside `range`.
std::optional<std::int64_t> ReadInt(const YAML::Node& node, const std::string& path,
                                    const Range& range, DiagnosticSink& sink);
std::optional<double> ReadNumber(const YAML::Node& node, const std::string& path,
                                 const Range& range, DiagnosticSink& sink);
std::optional<bool> ReadBool(const YAML::Node& node, const std::string& path, DiagnosticSink& sink);
std::optional<std::string> ReadString(const YAML::Node& node, const std::string& path,
                                      bool allow_empty, DiagnosticSink& sink);
// A free-form setting: plain scalars become bool, int or double when they read as one.
std::optional<SettingValue> ReadSettingValue(const YAML::Node& node, const std::string& path,
                                             DiagnosticSink& sink);

// Shortest text for a double that reads back exactly ("0.35", "7", "1e-05").
std::string NumberText(double value);

}  // namespace farm::sweep
