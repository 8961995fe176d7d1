#include "render_record_split.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace farm::store {
namespace {

constexpr std::size_t kNotFound = std::string_view::npos;
constexpr std::size_t kMaxLayouts = 16;  // a sweep's cells seen by one batch, most recent kept

// The members that vary render by render within a sweep (the grid's axes). The rest
// repeat: prompts, checkpoint, LoRAs and ControlNets (whose inputs follow the pose),
// stages (whose presets follow the tone), pose and tone themselves.
constexpr std::array<std::string_view, 9> kOwnKeys = {
    "cfg", "clip_skip", "denoise", "height", "sampler", "scheduler", "seed", "steps", "width"};

// Finds the ends of strings and values in one JSON text. Strings are most of a record's
// bytes (prompts, hashes) and most records have no escapes, so the usual string end is
// the next quote: a short loop for keys, memchr beyond.
class ValueScanner {
 public:
  explicit ValueScanner(std::string_view text)
      : text_(text), has_escapes_(std::memchr(text.data(), '\\', text.size()) != nullptr) {}

  // One past the closing quote of the string starting at `pos`, or kNotFound.
  std::size_t StringEnd(std::size_t pos) const {
    std::size_t from = pos + 1;
    while (true) {
      const std::size_t quote = FindQuote(from);
      if (quote == kNotFound) return kNotFound;
      if (!has_escapes_) return quote + 1;
      const void* escape = std::memchr(text_.data() + from, '\\', quote - from);
      if (escape == nullptr) return quote + 1;
      // Skip the escaped character, whatever it is (it may be the quote found).
      from = static_cast<std::size_t>(static_cast<const char*>(escape) - text_.data()) + 2;
    }
  }

  // One past the value starting at `pos`, or kNotFound. Containers are matched by depth
  // (strings skipped); a scalar runs to the next delimiter.
  std::size_t ValueEnd(std::size_t pos) const {
    if (pos >= text_.size()) return kNotFound;
    const char first = text_[pos];
    if (first == '"') return StringEnd(pos);
    if (first == '{' || first == '[') {
      int depth = 0;
      for (std::size_t i = pos; i < text_.size(); ++i) {
        const char c = text_[i];
        if (c == '"') {
          i = StringEnd(i);
          if (i == kNotFound) return kNotFound;
          --i;  // the loop's increment steps past the closing quote
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if (c == '}' || c == ']') {
          if (--depth == 0) return i + 1;
        }
      }
      return kNotFound;
    }
    std::size_t end = pos;
    while (end < text_.size() && text_[end] != ',' && text_[end] != '}' && text_[end] != ']') {
      ++end;
    }
    return end == pos ? kNotFound : end;
  }

  // The same for a scalar (a string or a number), or kNotFound for anything else:
  // objects, arrays and null are never own members.
  std::size_t ScalarEnd(std::size_t pos) const {
    if (pos >= text_.size()) return kNotFound;
    const char first = text_[pos];
    return first == '{' || first == '[' || first == 'n' ? kNotFound : ValueEnd(pos);
  }

  std::string_view text() const { return text_; }

 private:
  std::size_t FindQuote(std::size_t from) const {
    const std::size_t inline_end = std::min(text_.size(), from + 16);
    for (std::size_t i = from; i < inline_end; ++i) {
      if (text_[i] == '"') return i;
    }
    if (inline_end == text_.size()) return kNotFound;
    const void* quote = std::memchr(text_.data() + inline_end, '"', text_.size() - inline_end);
    return quote == nullptr
               ? kNotFound
               : static_cast<std::size_t>(static_cast<const char*>(quote) - text_.data());
  }

  std::string_view text_;
  bool has_escapes_;
};

void AppendObject(std::string* out, const std::vector<JsonMember>& members) {
  out->push_back('{');
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append(members[i].text);
  }
  out->push_back('}');
}

}  // namespace

bool ScanJsonMembers(std::string_view object, std::vector<JsonMember>* members) {
  members->clear();
  if (object.size() < 2 || object.front() != '{' || object.back() != '}') return false;
  if (object.size() == 2) return true;
  const ValueScanner scanner(object);
  std::size_t pos = 1;
  while (true) {
    if (object[pos] != '"') return false;
    const std::size_t key_end = scanner.StringEnd(pos);
    if (key_end == kNotFound || key_end >= object.size() || object[key_end] != ':') return false;
    const std::size_t value_end = scanner.ValueEnd(key_end + 1);
    if (value_end == kNotFound || value_end >= object.size()) return false;
    members->push_back(
        {object.substr(pos + 1, key_end - pos - 2), object.substr(pos, value_end - pos)});
    if (object[value_end] == '}') return value_end + 1 == object.size();
    if (object[value_end] != ',') return false;
    pos = value_end + 1;
  }
}

// A record's members in order, each either shared (its text kept in `shared`) or own
// (its key; the value is the record's).
struct RecordSplitter::Layout {
  struct Entry {
    std::string_view own_key;  // empty for a shared member (kOwnKeys' storage)
    std::size_t offset = 0;    // a shared member's text in `shared`
    std::size_t length = 0;
  };
  std::string shared;
  std::vector<Entry> entries;
  std::int64_t settings_id = 0;

  // Appends the own part of the scanned record to `own` when it has this layout.
  bool Match(const ValueScanner& record, std::string* own) const;
};

bool RecordSplitter::Layout::Match(const ValueScanner& record, std::string* own) const {
  const std::string_view canonical = record.text();
  if (canonical.size() < 2 || canonical.front() != '{') return false;
  own->assign("{");
  std::size_t pos = 1;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& entry = entries[i];
    if (i > 0) {
      if (pos >= canonical.size() || canonical[pos] != ',') return false;
      ++pos;
    }
    if (entry.own_key.empty()) {
      if (canonical.compare(pos, entry.length, shared, entry.offset, entry.length) != 0) {
        return false;
      }
      pos += entry.length;
      continue;
    }
    // "key":value
    const std::size_t key_end = pos + entry.own_key.size() + 2;
    if (key_end >= canonical.size() || canonical[pos] != '"' || canonical[key_end - 1] != '"' ||
        canonical[key_end] != ':' ||
        canonical.compare(pos + 1, entry.own_key.size(), entry.own_key) != 0) {
      return false;
    }
    const std::size_t value_end = record.ScalarEnd(key_end + 1);
    if (value_end == kNotFound) return false;
    if (own->size() > 1) own->push_back(',');
    own->append(canonical, pos, value_end - pos);
    pos = value_end;
  }
  if (pos + 1 != canonical.size() || canonical[pos] != '}') return false;
  own->push_back('}');
  return true;
}

RecordSplitter::RecordSplitter() = default;
RecordSplitter::~RecordSplitter() = default;

RecordSplitter::Split RecordSplitter::SplitRecord(std::string_view canonical, std::string* own) {
  const ValueScanner record(canonical);
  for (std::size_t i = 0; i < layouts_.size(); ++i) {
    if (!layouts_[i]->Match(record, own)) continue;
    std::rotate(layouts_.begin(), layouts_.begin() + static_cast<std::ptrdiff_t>(i),
                layouts_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    return {&layouts_.front()->shared, &layouts_.front()->settings_id};
  }
  return Learn(canonical, own);
}

RecordSplitter::Split RecordSplitter::Learn(std::string_view canonical, std::string* own) {
  std::vector<JsonMember> members;
  if (!ScanJsonMembers(canonical, &members)) return {};
  auto layout = std::make_unique<Layout>();
  std::vector<JsonMember> own_members;
  layout->shared.push_back('{');
  for (std::size_t i = 0; i < members.size(); ++i) {
    const JsonMember& member = members[i];
    // JoinRenderRecord merges by key: only keys in strictly increasing order come back
    // in the order they were written.
    if (i > 0 && !(members[i - 1].key < member.key)) return {};
    const auto own_key = std::find(kOwnKeys.begin(), kOwnKeys.end(), member.key);
    // Own values are scalars. A null stays shared: SQLite's json_patch (the SQL view of a
    // split record) reads a null in its patch as "delete this key".
    if (own_key != kOwnKeys.end() &&
        ValueScanner(member.text).ScalarEnd(member.key.size() + 3) == member.text.size()) {
      layout->entries.push_back({*own_key, 0, 0});
      own_members.push_back(member);
      continue;
    }
    if (layout->shared.size() > 1) layout->shared.push_back(',');
    layout->entries.push_back({{}, layout->shared.size(), member.text.size()});
    layout->shared.append(member.text);
  }
  layout->shared.push_back('}');
  if (own_members.empty()) return {};
  own->clear();
  AppendObject(own, own_members);
  if (layouts_.size() == kMaxLayouts) layouts_.pop_back();
  layouts_.insert(layouts_.begin(), std::move(layout));
  return {&layouts_.front()->shared, &layouts_.front()->settings_id};
}

StatusOr<std::string> JoinRenderRecord(std::string_view shared, std::string_view own) {
  std::vector<JsonMember> a, b;
  if (!ScanJsonMembers(shared, &a)) return DataLoss("render settings are not a JSON object");
  if (!ScanJsonMembers(own, &b)) return DataLoss("render's own parameters are not a JSON object");
  std::vector<JsonMember> merged;
  merged.reserve(a.size() + b.size());
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i].key == b[j].key) {
      return DataLoss("key '" + std::string(a[i].key) + "' is in both parts of a render record");
    }
    const bool take_shared = j == b.size() || (i < a.size() && a[i].key < b[j].key);
    merged.push_back(take_shared ? a[i++] : b[j++]);
  }
  std::string record;
  record.reserve(shared.size() + own.size());
  AppendObject(&record, merged);
  return record;
}

std::int64_t SettingsFingerprint(std::string_view shared) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : shared) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  std::int64_t value;
  std::memcpy(&value, &hash, sizeof value);
  return value;
}

}  // namespace farm::store
