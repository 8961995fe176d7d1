#include "cli_common.h"

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

}  // namespace farmctl
