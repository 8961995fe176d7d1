#include "render_param_table.h"

#include <algorithm>
#include <charconv>

#include "farm/schemas/samplers.h"
#include "prompt_template.h"
#include "suggest.h"

namespace farm::sweep {
namespace {

constexpr int kMinSide = 64;
constexpr int kMaxSide = 2048;

const std::vector<ParamInfo>& Table() {
  static const std::vector<ParamInfo> kTable = {
      {"tone", ParamType::kString, {}, "a tone preset name"},
      {"sampler", ParamType::kString, {}, "a sampler name such as 'DPM++ 2M Karras'"},
      {"cfg", ParamType::kNumber, {1, 30}, ""},
      {"clip_skip", ParamType::kInt, {1, 12}, ""},
      {"steps", ParamType::kInt, {1, 150}, ""},
      {"size", ParamType::kString, {}, "WIDTHxHEIGHT in multiples of 8, e.g. '512x768'"},
      {"pose", ParamType::kString, {}, "a pose name of lower-case letters, digits and '_'"},
      {"lora", ParamType::kString, {}, "the name of an entry of loras:"},
      {"lora_weight", ParamType::kNumber, {-2, 2}, ""},
      {"denoise", ParamType::kNumber, {0, 1, /*min_open=*/true}, ""},
      {"prompt", ParamType::kString, {}, "a prompt template"},
  };
  return kTable;
}

std::optional<int> ParseSide(std::string_view text) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

// Empty when valid, else what is wrong with the size.
std::string SizeProblem(std::string_view text) {
  std::size_t x = text.find('x');
  std::optional<int> width, height;
  if (x != std::string_view::npos) {
    width = ParseSide(text.substr(0, x));
    height = ParseSide(text.substr(x + 1));
  }
  if (!width || !height) return "'" + std::string(text) + "' is not WIDTHxHEIGHT";
  for (auto [side, label] : {std::pair{*width, "width"}, std::pair{*height, "height"}}) {
    if (side < kMinSide || side > kMaxSide) {
      return std::string(label) + " " + std::to_string(side) + " is outside [64, 2048]";
    }
    if (side % 8 != 0) {
      return std::string(label) + " " + std::to_string(side) + " is not a multiple of 8";
    }
  }
  return "";
}

bool IsPoseName(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::optional<GridValue> ReadStringValue(const ParamInfo& info, const YAML::Node& node,
                                         const std::string& path, const SweepSpec& spec,
                                         DiagnosticSink& sink) {
  std::optional<std::string> text = ReadString(node, path, info.name == "prompt", sink);
  if (!text) return std::nullopt;
  std::string problem;
  if (info.name == "sampler") {
    if (!ParseSamplerName(*text).ok()) {
      problem = "unknown sampler '" + *text +
                "'; expected one of: " + JoinNames(KnownSamplerNames()) +
                DidYouMean(*text, KnownSamplerNames());
    }
  } else if (info.name == "tone") {
    if (!spec.tones.contains(*text)) {
      std::vector<std::string> names;
      for (const auto& [name, preset] : spec.tones) names.push_back(name);
      problem = "unknown tone '" + *text + "'; expected one of: " + JoinNames(names) +
                " (from the tone presets or the spec's tones:)" + DidYouMean(*text, names);
    }
  } else if (info.name == "lora") {
    if (!spec.loras.empty() && !spec.loras.contains(*text)) {
      std::vector<std::string> names;
      for (const auto& [name, ref] : spec.loras) names.push_back(name);
      problem = "unknown LoRA '" + *text + "'; expected one of: " + JoinNames(names) +
                " (the entries of loras:)" + DidYouMean(*text, names);
    }
  } else if (info.name == "size") {
    std::string why = SizeProblem(*text);
    if (!why.empty()) problem = "bad size: " + why + "; expected " + info.expected;
  } else if (info.name == "pose") {
    if (!IsPoseName(*text)) problem = "bad pose '" + *text + "'; expected " + info.expected;
  } else if (info.name == "prompt") {
    TemplateScan scan = ScanTemplate(*text);
    for (const std::string& p : scan.problems) sink.Add(node, path, p);
    if (!scan.problems.empty()) return std::nullopt;
  }
  if (!problem.empty()) {
    sink.Add(node, path, problem);
    return std::nullopt;
  }
  return GridValue(*text);
}

}  // namespace

const std::vector<std::string>& RenderParamNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const ParamInfo& info : Table()) names.push_back(info.name);
    return names;
  }();
  return kNames;
}

const ParamInfo* FindRenderParam(std::string_view name) {
  for (const ParamInfo& info : Table()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

std::optional<GridValue> ReadRenderParamValue(const ParamInfo& info, const YAML::Node& node,
                                              const std::string& path, const SweepSpec& spec,
                                              DiagnosticSink& sink) {
  switch (info.type) {
    case ParamType::kInt:
      if (auto v = ReadInt(node, path, info.range, sink)) return GridValue(*v);
      return std::nullopt;
    case ParamType::kNumber:
      if (auto v = ReadNumber(node, path, info.range, sink)) return GridValue(*v);
      return std::nullopt;
    case ParamType::kString:
      return ReadStringValue(info, node, path, spec, sink);
  }
  return std::nullopt;
}

bool ParseSize(std::string_view text, int* width, int* height) {
  if (!SizeProblem(text).empty()) return false;
  std::size_t x = text.find('x');
  *width = *ParseSide(text.substr(0, x));
  *height = *ParseSide(text.substr(x + 1));
  return true;
}

}  // namespace farm::sweep
