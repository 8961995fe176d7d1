// Internal to the io part: the pieces every LDM <-> diffusers name map shares (reading a
// dotted key from the front, renaming a layer, listing names in errors) and the UNet's
// name maps, which the ControlNet's trunk reuses.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace farm::sd::name_rules {

// Reads a dotted key from the front.
class KeyReader {
 public:
  explicit KeyReader(std::string_view key) : rest_(key) {}
  bool Take(std::string_view prefix);
  // A decimal index followed by '.'.
  std::optional<int> TakeIndex();
  std::string_view rest() const { return rest_; }
  // "weight"/"bias" (the parameter of a layer), or nullopt.
  std::optional<std::string> Param() const;

 private:
  std::string_view rest_;
};

std::string Str(int value);

// Tries each (from, to) rename at the front of the reader; then a parameter must follow.
using Renames = std::vector<std::pair<std::string_view, std::string_view>>;
std::optional<std::string> RenameLayer(KeyReader& key, const Renames& names);

// Lists names in an error message, at most `limit` of them.
std::string NameList(const std::vector<std::string>& names, size_t limit = 40);

// ---- UNet (unet_names.cc) ----
struct UnetLayout {
  int layers = 2;  // res blocks per down level; up levels have one more
};
// The first downsampler is input_blocks.{layers+1}.0.op (a single level has none).
UnetLayout UnetLayoutFromLdm(const std::vector<std::string_view>& keys);
std::optional<std::string> UnetLdmToDiffusers(std::string_view name, const UnetLayout& layout);

struct UnetDiffusersLayout {
  int layers = 2;
  std::set<int> up_levels_with_attention;
};
UnetDiffusersLayout UnetLayoutFromDiffusers(const std::vector<std::string>& names);
std::optional<std::string> UnetDiffusersToLdm(std::string_view name, const UnetDiffusersLayout& layout);

}  // namespace farm::sd::name_rules
