#include "cli_common.h"

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

namespace farmctl {

int ReportError(const GlobalOptions& options, const farm::Status& status) {
  if (options.json) {
    nlohmann::json out = {{"ok", false},
                          {"error", {{"code", farm::StatusCodeName(status.code())},
                                     {"message", status.message()}}}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cerr << "farmctl: " << status.message() << "\n";
  }
  return kExitFailure;
}

std::string EffectiveDbPath(const GlobalOptions& options) {
  return options.db_path.empty() ? options.default_db_path : options.db_path;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) { PrintTable(rows, std::cout); }

void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

}  // namespace farmctl
