#include "farm/schemas/data_dir.h"

#include <filesystem>
#include <system_error>

namespace farm {

namespace fs = std::filesystem;

std::string SelfExecutable() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : self.string();
}

std::string DataDir(const std::string& name, const std::string& built_in,
                    const std::string& self_exe) {
  const fs::path exe = self_exe.empty() ? fs::path(SelfExecutable()) : fs::path(self_exe);
  if (!exe.empty()) {
    std::error_code ec;
    const fs::path installed = exe.parent_path().parent_path() / "share" / "studiofarm" / name;
    if (fs::is_directory(installed, ec)) return installed.lexically_normal().string();
  }
  return built_in;
}

}  // namespace farm
