#include "tone_reader.h"

#include "farm/schemas/samplers.h"
#include "suggest.h"

namespace farm::sweep {
namespace {

bool IsName(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

void ReadGrade(const YAML::Node& node, const std::string& path, TonePreset& tone,
               DiagnosticSink& sink) {
  auto entries =
      ReadMap(node, path, {"white_balance_shift", "saturation", "contrast", "strength"}, sink);
  if (!entries) return;
  for (const MapEntry& e : *entries) {
    if (e.key == "white_balance_shift") {
      if (auto v = ReadNumber(e.value, e.path, {-5000, 5000}, sink)) tone.white_balance_shift = *v;
    } else if (e.key == "saturation") {
      if (auto v = ReadNumber(e.value, e.path, {0, 3}, sink)) tone.saturation = *v;
    } else if (e.key == "contrast") {
      if (auto v = ReadNumber(e.value, e.path, {0, 3}, sink)) tone.contrast = *v;
    } else {
      if (auto v = ReadNumber(e.value, e.path, {0, 1}, sink)) tone.strength = *v;
    }
  }
}

}  // namespace

std::optional<TonePreset> ReadTone(const YAML::Node& node, const std::string& path,
                                   const TonePreset* base, DiagnosticSink& sink) {
  std::size_t errors_before = sink.size();
  auto entries = ReadMap(node, path, {"prompt", "samplers", "grade"}, sink);
  if (!entries) return std::nullopt;
  TonePreset tone = base != nullptr ? *base : TonePreset{};
  if (const MapEntry* e = FindEntry(*entries, "prompt")) {
    if (auto text = ReadString(e->value, e->path, false, sink)) tone.prompt = *text;
  } else if (base == nullptr) {
    ReportMissing(node, KeyPath(path, "prompt"), "the tone's prompt words", sink);
  }
  if (const MapEntry* e = FindEntry(*entries, "samplers")) {
    if (auto items = ReadList(e->value, e->path, true, false, sink)) {
      tone.samplers.clear();
      for (const ListItem& item : *items) {
        auto name = ReadString(item.node, item.path, false, sink);
        if (!name) continue;
        if (!ParseSamplerName(*name).ok()) {
          sink.Add(item.node, item.path,
                   "unknown sampler '" + *name + "'; expected one of: " +
                       JoinNames(KnownSamplerNames()) + DidYouMean(*name, KnownSamplerNames()));
          continue;
        }
        tone.samplers.push_back(*name);
      }
    }
  }
  if (const MapEntry* e = FindEntry(*entries, "grade")) ReadGrade(e->value, e->path, tone, sink);
  if (sink.size() != errors_before) return std::nullopt;
  return tone;
}

std::optional<TonePresets> ReadTones(const YAML::Node& node, const std::string& path,
                                     const TonePresets& base, DiagnosticSink& sink) {
  std::size_t errors_before = sink.size();
  auto entries = ReadMap(node, path, {}, sink);
  if (!entries) return std::nullopt;
  TonePresets tones = base;
  for (const MapEntry& e : *entries) {
    if (!IsName(e.key)) {
      sink.Add(e.key_node, e.path,
               "bad tone name '" + e.key + "'; expected lower-case letters, digits, '_', '-'");
      continue;
    }
    auto it = base.find(e.key);
    auto tone = ReadTone(e.value, e.path, it == base.end() ? nullptr : &it->second, sink);
    if (tone) tones[e.key] = std::move(*tone);
  }
  if (sink.size() != errors_before) return std::nullopt;
  return tones;
}

}  // namespace farm::sweep
