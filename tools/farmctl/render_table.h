// Query rows (farm::query::RowsToJson objects) for a person and for spreadsheets.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace farmctl {

// A value as a table cell: NULL "-", reals to 4 decimals without trailing zeros,
// booleans yes/no, SHA-256 hex digests to their first 12 digits; text longer than `max_chars` characters cut with "...".
std::string CellText(const nlohmann::ordered_json& value, std::size_t max_chars = 48);

// Left-aligned columns two spaces apart, widths counted in UTF-8 characters; the header
// is the column names in capitals.
void PrintRowsTable(std::ostream& out, const std::vector<std::string>& columns,
                    const nlohmann::ordered_json& rows);

// RFC 4180: a header line of the column names, CRLF line ends, fields with a comma,
// quote, CR or LF quoted with quotes doubled. NULL is an empty field, booleans true/false,
// numbers at full precision.
void PrintRowsCsv(std::ostream& out, const std::vector<std::string>& columns,
                  const nlohmann::ordered_json& rows);

}  // namespace farmctl
