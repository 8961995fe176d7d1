#include "render_table.h"

#include <algorithm>
#include <cstdio>

namespace farmctl {
namespace {

using Json = nlohmann::ordered_json;

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::size_t Utf8Length(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) { return !IsContinuationByte(c); }));
}

// The first `chars` characters (never half of a multi-byte one).
std::string Utf8Prefix(const std::string& text, std::size_t chars) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!IsContinuationByte(text[i]) && seen++ == chars) return text.substr(0, i);
  }
  return text;
}

// A SHA-256 in hex: a person needs only its start, as git shows commits.
bool IsSha256Hex(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string OneLine(std::string text) {
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return text;
}

std::string CsvField(const Json& value) {
  std::string text;
  if (value.is_null()) return "";
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_boolean()) {
    text = value.get<bool>() ? "true" : "false";
  } else {
    text = value.dump();
  }
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

std::string CellText(const Json& value, std::size_t max_chars) {
  if (value.is_null()) return "-";
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number_float()) {
    char text[64];
    std::snprintf(text, sizeof(text), "%.4f", value.get<double>());
    std::string out = text;
    if (out.find('.') != std::string::npos) {
      while (out.back() == '0') out.pop_back();
      if (out.back() == '.') out.pop_back();
    }
    return out == "-0" ? "0" : out;
  }
  if (value.is_number()) return value.dump();
  std::string text = OneLine(value.is_string() ? value.get<std::string>() : value.dump());
  if (text.empty()) return "-";
  if (IsSha256Hex(text)) return text.substr(0, 12);
  if (max_chars >= 4 && Utf8Length(text) > max_chars) text = Utf8Prefix(text, max_chars - 3) + "...";
  return text;
}

void PrintRowsTable(std::ostream& out, const std::vector<std::string>& columns, const Json& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> header;
  for (const std::string& column : columns) {
    std::string name = column;
    std::transform(name.begin(), name.end(), name.begin(), [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
    header.push_back(name);
  }
  cells.push_back(header);
  for (const Json& row : rows) {
    std::vector<std::string> line;
    for (const std::string& column : columns) line.push_back(CellText(row.contains(column) ? row[column] : Json()));
    cells.push_back(std::move(line));
  }
  std::vector<std::size_t> widths(columns.size(), 0);
  for (const auto& line : cells) {
    for (std::size_t c = 0; c < line.size(); ++c) widths[c] = std::max(widths[c], Utf8Length(line[c]));
  }
  for (const auto& line : cells) {
    std::string text;
    for (std::size_t c = 0; c < line.size(); ++c) {
      text += line[c];
      if (c + 1 < line.size()) text += std::string(widths[c] - Utf8Length(line[c]) + 2, ' ');
    }
    out << text << "\n";
  }
}

void PrintRowsCsv(std::ostream& out, const std::vector<std::string>& columns, const Json& rows) {
  for (std::size_t c = 0; c < columns.size(); ++c) out << (c ? "," : "") << CsvField(Json(columns[c]));
  out << "\r\n";
  for (const Json& row : rows) {
    for (std::size_t c = 0; c < columns.size(); ++c) {
      out << (c ? "," : "") << CsvField(row.contains(columns[c]) ? row[columns[c]] : Json());
    }
    out << "\r\n";
  }
}

}  // namespace farmctl
