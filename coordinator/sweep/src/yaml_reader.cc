#include "yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "suggest.h"

namespace farm::sweep {
namespace {

bool IsPlain(const YAML::Node& node) { return node.Tag() == "?"; }

std::optional<std::int64_t> ParseInt(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> ParseDouble(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<bool> ParseBool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

}  // namespace

void DiagnosticSink::Add(const YAML::Mark& mark, std::string path, std::string message) {
  Diagnostic d;
  d.file = file_;
  if (!mark.is_null()) {
    d.line = mark.line + 1;
    d.column = mark.column + 1;
  }
  d.path = std::move(path);
  d.message = std::move(message);
  diagnostics_.push_back(std::move(d));
}

void DiagnosticSink::Add(const YAML::Node& node, std::string path, std::string message) {
  YAML::Mark mark = node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
  if (node.IsDefined() && node.IsNull()) {
    for (const auto& [value, key_mark] : empty_values_) {
      if (value.is(node)) mark = key_mark;
    }
  }
  Add(mark, std::move(path), std::move(message));
}

void DiagnosticSink::PlaceEmptyValue(const YAML::Node& value, const YAML::Mark& key_mark) {
  empty_values_.emplace_back(value, key_mark);
}

std::vector<Diagnostic> DiagnosticSink::Take() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  return std::move(diagnostics_);
}

std::string KeyPath(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string IndexPath(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string DescribeNode(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  std::string text = node.Scalar();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return "'" + text + "'";
}

std::optional<YAML::Node> LoadDocument(std::string_view text, DiagnosticSink& sink) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    sink.Add(e.mark, "", "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  if (documents.empty() || documents[0].IsNull()) {
    sink.Add(YAML::Mark::null_mark(), "", "the file is empty; expected a YAML mapping");
    return std::nullopt;
  }
  if (documents.size() > 1) {
    sink.Add(documents[1], "", "a second YAML document ('---'); expected exactly one");
    return std::nullopt;
  }
  return documents[0];
}

std::optional<std::vector<MapEntry>> ReadMap(const YAML::Node& node, const std::string& path,
                                             const std::vector<std::string>& known,
                                             DiagnosticSink& sink) {
  if (!node.IsMap()) {
    sink.Add(node, path, "got " + DescribeNode(node) + "; expected a mapping (key: value)");
    return std::nullopt;
  }
  std::vector<MapEntry> entries;
  for (YAML::const_iterator it = node.begin(); it != node.end(); ++it) {
    // Copies: the iterator's pair is a temporary proxy.
    const YAML::Node key_node = it->first;
    const YAML::Node value = it->second;
    if (!key_node.IsScalar()) {
      sink.Add(key_node, path, "a key is " + DescribeNode(key_node) + "; expected a name");
      continue;
    }
    std::string key = key_node.Scalar();
    std::string key_path = KeyPath(path, key);
    auto previous = std::find_if(entries.begin(), entries.end(),
                                 [&](const MapEntry& e) { return e.key == key; });
    if (previous != entries.end()) {
      sink.Add(key_node, key_path,
               "duplicate key (first at line " +
                   std::to_string(previous->key_node.Mark().line + 1) +
                   "); expected each key once");
      continue;
    }
    if (!known.empty() && std::find(known.begin(), known.end(), key) == known.end()) {
      sink.Add(key_node, key_path,
               "unknown key '" + key + "'; expected one of: " + JoinNames(known) +
                   DidYouMean(key, known));
      continue;
    }
    if (value.IsNull()) sink.PlaceEmptyValue(value, key_node.Mark());
    entries.push_back({key, key_path, key_node, value});
  }
  return entries;
}

const MapEntry* FindEntry(const std::vector<MapEntry>& entries, std::string_view key) {
  for (const MapEntry& entry : entries) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

void ReportMissing(const YAML::Node& map_node, const std::string& path, std::string_view expected,
                   DiagnosticSink& sink) {
  sink.Add(map_node, path, "missing required key; expected " + std::string(expected));
}

std::optional<std::vector<ListItem>> ReadList(const YAML::Node& node, const std::string& path,
                                              bool allow_scalar, bool allow_empty,
                                              DiagnosticSink& sink) {
  std::vector<ListItem> items;
  if (node.IsScalar() && allow_scalar) {
    items.push_back({node, path});
    return items;
  }
  if (!node.IsSequence()) {
    sink.Add(node, path, "got " + DescribeNode(node) + "; expected a list");
    return std::nullopt;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    items.push_back({node[i], IndexPath(path, i)});
  }
  if (items.empty() && !allow_empty) {
    sink.Add(node, path, "empty list; expected at least one value");
    return std::nullopt;
  }
  return items;
}

bool Range::Contains(double value) const {
  bool above_min = min_open ? value > min : value >= min;
  bool below_max = max_open ? value < max : value <= max;
  return above_min && below_max;
}

std::string Range::Describe(bool integer) const {
  std::string kind = integer ? "an integer" : "a number";
  return kind + " in " + (min_open ? "(" : "[") + NumberText(min) + ", " + NumberText(max) +
         (max_open ? ")" : "]");
}

std::optional<std::int64_t> ReadInt(const YAML::Node& node, const std::string& path,
                                    const Range& range, DiagnosticSink& sink) {
  std::optional<std::int64_t> value;
  if (node.IsScalar() && IsPlain(node)) value = ParseInt(node.Scalar());
  if (!value) {
    sink.Add(node, path, "got " + DescribeNode(node) + "; expected " + range.Describe(true));
    return std::nullopt;
  }
  if (!range.Contains(static_cast<double>(*value))) {
    sink.Add(node, path,
             NumberText(static_cast<double>(*value)) + " is out of range; expected " +
                 range.Describe(true));
    return std::nullopt;
  }
  return value;
}

std::optional<double> ReadNumber(const YAML::Node& node, const std::string& path,
                                 const Range& range, DiagnosticSink& sink) {
  std::optional<double> value;
  if (node.IsScalar() && IsPlain(node)) value = ParseDouble(node.Scalar());
  if (!value) {
    sink.Add(node, path, "got " + DescribeNode(node) + "; expected " + range.Describe(false));
    return std::nullopt;
  }
  if (!range.Contains(*value)) {
    sink.Add(node, path,
             NumberText(*value) + " is out of range; expected " + range.Describe(false));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> ReadBool(const YAML::Node& node, const std::string& path,
                             DiagnosticSink& sink) {
  std::optional<bool> value;
  if (node.IsScalar() && IsPlain(node)) value = ParseBool(node.Scalar());
  if (!value) sink.Add(node, path, "got " + DescribeNode(node) + "; expected true or false");
  return value;
}

std::optional<std::string> ReadString(const YAML::Node& node, const std::string& path,
                                      bool allow_empty, DiagnosticSink& sink) {
  if (!node.IsScalar()) {
    sink.Add(node, path, "got " + DescribeNode(node) + "; expected a string");
    return std::nullopt;
  }
  if (node.Scalar().empty() && !allow_empty) {
    sink.Add(node, path, "empty string; expected a non-empty string");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<SettingValue> ReadSettingValue(const YAML::Node& node, const std::string& path,
                                             DiagnosticSink& sink) {
  if (!node.IsScalar()) {
    sink.Add(node, path,
             "got " + DescribeNode(node) + "; expected a scalar (bool, number or string)");
    return std::nullopt;
  }
  const std::string& text = node.Scalar();
  if (IsPlain(node)) {
    if (auto b = ParseBool(text)) return SettingValue(*b);
    if (auto i = ParseInt(text)) return SettingValue(*i);
    if (auto d = ParseDouble(text)) return SettingValue(*d);
  }
  return SettingValue(text);
}

std::string NumberText(double value) {
  // Whole numbers print as integers ("100000", not "1e+05").
  if (std::abs(value) < 1e15 && value == std::floor(value)) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (error != std::errc()) return "?";
  return std::string(buffer, end);
}

}  // namespace farm::sweep
