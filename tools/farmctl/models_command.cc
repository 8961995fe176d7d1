#include "models_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "farm/schemas/sha256.h"
#include "farm/sweep/model_index.h"
#include "model_file_check.h"
#include "model_kind.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using farm::sweep::ModelEntry;
using nlohmann::ordered_json;

struct ModelsArgs {
  std::string target;  // add: FILE or DIR; show/rm: NAME
  std::string as_name;
  std::string kind;
  bool link = false;
  bool remove_file = false;
};

ordered_json EntryJson(const ModelEntry& entry) {
  return {{"name", entry.name},     {"path", entry.path},   {"kind", entry.kind},
          {"sha256", entry.sha256}, {"autov2", entry.autov2}, {"dtype", entry.dtype},
          {"size", entry.size},     {"mtime_ns", entry.mtime_ns}};
}

struct FileStamp {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
};

farm::StatusOr<FileStamp> Stamp(const std::string& path) {
  std::error_code error;
  FileStamp stamp;
  stamp.size = fs::file_size(path, error);
  if (error) return farm::NotFound(path + ": cannot read its size: " + error.message());
  const auto time = fs::last_write_time(path, error);
  if (error) return farm::NotFound(path + ": cannot read its mtime: " + error.message());
  stamp.mtime_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  return stamp;
}

// `file` relative to the models folder when it lies inside it, else "".
std::string InsideModels(const std::string& models_dir, const std::string& file) {
  std::error_code error;
  const fs::path root = fs::weakly_canonical(models_dir, error);
  const fs::path path = fs::weakly_canonical(file, error);
  const fs::path relative = path.lexically_relative(root);
  if (relative.empty() || *relative.begin() == "..") return "";
  return relative.string();
}

class Adder {
 public:
  Adder(std::string models_dir, std::vector<ModelEntry> index, const ModelsArgs& args)
      : models_dir_(std::move(models_dir)), index_(std::move(index)), args_(args) {}

  // Adds one file; a refusal is returned, not thrown, so a folder goes on.
  farm::StatusOr<ModelEntry> Add(const std::string& file, const std::string& name_override) {
    if (IsPickleFile(file)) {
      return farm::InvalidArgument(
          file + ": a pickle checkpoint (.ckpt/.pt/.pth/.bin, or pickle/zip bytes), never loaded "
                 "because unpickling can run code; convert it to .safetensors and add that");
    }
    FARM_ASSIGN_OR_RETURN(SafetensorsHeader header, ReadSafetensorsHeader(file));
    FARM_ASSIGN_OR_RETURN(std::string kind, DetectModelKind(file, header));
    FARM_ASSIGN_OR_RETURN(std::string path, Place(file, kind));
    ModelEntry placed;
    placed.path = path;
    const std::string on_disk = farm::sweep::ModelEntryPath(models_dir_, placed);
    FARM_ASSIGN_OR_RETURN(FileStamp stamp, Stamp(on_disk));

    auto same_path = std::find_if(index_.begin(), index_.end(),
                                  [&](const ModelEntry& e) { return e.path == path; });
    std::string name = name_override;
    if (name.empty()) name = same_path != index_.end() ? same_path->name : fs::path(file).stem().string();
    if (name.empty() || name.find('/') != std::string::npos) {
      return farm::InvalidArgument("'" + name + "': not a model name; expected a name without '/' "
                                   "(pass --as NAME)");
    }
    for (const ModelEntry& other : index_) {
      if (other.name == name && other.path != path) {
        return farm::AlreadyExists(file + ": the name '" + name + "' is taken by " + other.path +
                                   "; pass --as ANOTHER_NAME or `farmctl models rm " + name + "`");
      }
    }
    ModelEntry entry;
    entry.name = name;
    entry.path = path;
    entry.kind = kind;
    entry.dtype = MainDtype(header);
    entry.size = stamp.size;
    entry.mtime_ns = stamp.mtime_ns;
    if (same_path != index_.end() && same_path->size == stamp.size &&
        same_path->mtime_ns == stamp.mtime_ns && same_path->sha256.size() == 64) {
      entry.sha256 = same_path->sha256;  // unchanged since it was hashed
    } else {
      FARM_ASSIGN_OR_RETURN(entry.sha256, farm::Sha256File(on_disk));
      ++hashed_;
    }
    entry.autov2 = entry.sha256.substr(0, 10);
    std::erase_if(index_, [&](const ModelEntry& e) { return e.path == path || e.name == name; });
    index_.push_back(entry);
    return entry;
  }

  const std::vector<ModelEntry>& index() const { return index_; }
  int hashed() const { return hashed_; }

 private:
  // Where the index will say the file is: in place inside the models folder, linked in
  // place (--link), or copied in under <kind>/.
  farm::StatusOr<std::string> Place(const std::string& file, const std::string& kind) {
    if (std::string inside = InsideModels(models_dir_, file); !inside.empty()) return inside;
    std::error_code error;
    if (args_.link) return fs::absolute(file, error).lexically_normal().string();
    const fs::path relative = fs::path(kind) / fs::path(file).filename();
    const fs::path target = fs::path(models_dir_) / relative;
    if (fs::exists(target, error)) {
      FARM_ASSIGN_OR_RETURN(std::string source_hash, farm::Sha256File(file));
      FARM_ASSIGN_OR_RETURN(std::string target_hash, farm::Sha256File(target.string()));
      hashed_ += 2;
      if (source_hash != target_hash) {
        return farm::AlreadyExists(file + ": " + target.string() + " exists with other bytes; "
                                   "rename the file or remove the other one");
      }
      return relative.string();
    }
    fs::create_directories(target.parent_path(), error);
    fs::copy_file(file, target, error);
    if (error) {
      return farm::Unavailable(file + ": cannot copy it to " + target.string() + ": " +
                               error.message());
    }
    return relative.string();
  }

  std::string models_dir_;
  std::vector<ModelEntry> index_;
  const ModelsArgs& args_;
  int hashed_ = 0;
};

bool IsCandidate(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".safetensors" || ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin";
}

int RunAdd(const GlobalOptions& options, const ModelsArgs& args) {
  std::error_code error;
  const bool is_dir = fs::is_directory(args.target, error);
  if (!is_dir && !fs::exists(args.target, error)) {
    return ReportError(options, farm::NotFound(args.target + ": no such file or folder; expected "
                                               "a .safetensors file or a folder of them"));
  }
  if (is_dir && !args.as_name.empty()) {
    return ReportError(options, farm::InvalidArgument("--as names one file; " + args.target +
                                                      " is a folder (each file keeps its name)"));
  }
  auto index = farm::sweep::ReadModelIndex(options.models_dir);
  if (!index.ok()) return ReportError(options, index.status());
  std::vector<std::string> files;
  if (is_dir) {
    for (const auto& item : fs::recursive_directory_iterator(args.target, error)) {
      if (item.is_regular_file() && IsCandidate(item.path())) files.push_back(item.path().string());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(args.target);
  }
  Adder adder(options.models_dir, std::move(*index), args);
  ordered_json added = ordered_json::array();
  ordered_json refused = ordered_json::array();
  for (const std::string& file : files) {
    farm::StatusOr<ModelEntry> entry = adder.Add(file, args.as_name);
    if (entry.ok()) {
      added.push_back(EntryJson(*entry));
    } else {
      refused.push_back({{"file", file}, {"reason", entry.status().message()}});
    }
  }
  if (!added.empty()) {
    if (farm::Status written = farm::sweep::WriteModelIndex(options.models_dir, adder.index());
        !written.ok()) {
      return ReportError(options, written);
    }
  }
  if (options.json) {
    std::cout << ordered_json({{"ok", refused.empty()}, {"added", added}, {"refused", refused},
                               {"hashed", adder.hashed()}})
                     .dump(2)
              << "\n";
  } else {
    for (const auto& entry : added) {
      std::cout << "added " << entry["name"].get<std::string>() << "  "
                << entry["kind"].get<std::string>() << "  " << entry["dtype"].get<std::string>()
                << "  " << entry["autov2"].get<std::string>() << "  "
                << entry["path"].get<std::string>() << "\n";
    }
    for (const auto& item : refused) {
      std::cerr << "farmctl: refused " << item["reason"].get<std::string>() << "\n";
    }
    if (files.empty()) std::cout << "no .safetensors files in " << args.target << "\n";
  }
  return refused.empty() ? kExitOk : kExitFailure;
}

int RunList(const GlobalOptions& options, const ModelsArgs& args) {
  auto index = farm::sweep::ReadModelIndex(options.models_dir);
  if (!index.ok()) return ReportError(options, index.status());
  std::erase_if(*index, [&](const ModelEntry& e) { return !args.kind.empty() && e.kind != args.kind; });
  if (options.json) {
    ordered_json models = ordered_json::array();
    for (const ModelEntry& entry : *index) models.push_back(EntryJson(entry));
    std::cout << ordered_json({{"ok", true}, {"models", models}}).dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "KIND", "DTYPE", "SIZE", "AUTOV2", "PATH"}};
  for (const ModelEntry& e : *index) {
    rows.push_back({e.name, e.kind, e.dtype, std::to_string(e.size), e.autov2, e.path});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunShow(const GlobalOptions& options, const ModelsArgs& args) {
  auto entry = farm::sweep::FindModel(options.models_dir, args.target);
  if (!entry.ok()) return ReportError(options, entry.status());
  const std::string file = farm::sweep::ModelEntryPath(options.models_dir, *entry);
  std::error_code error;
  const bool exists = fs::is_regular_file(file, error);
  if (options.json) {
    std::cout << ordered_json({{"ok", true}, {"model", EntryJson(*entry)}, {"file", file},
                               {"exists", exists}, {"spec", "models:" + entry->name}})
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  PrintTable({{"name", entry->name}, {"kind", entry->kind}, {"dtype", entry->dtype},
              {"size", std::to_string(entry->size)}, {"sha256", entry->sha256},
              {"autov2", entry->autov2}, {"file", file + (exists ? "" : " (missing)")},
              {"spec", "models:" + entry->name}});
  return kExitOk;
}

int RunVerify(const GlobalOptions& options) {
  auto index = farm::sweep::ReadModelIndex(options.models_dir);
  if (!index.ok()) return ReportError(options, index.status());
  ordered_json problems = ordered_json::array();
  int hashed = 0;
  for (const ModelEntry& entry : *index) {
    const std::string file = farm::sweep::ModelEntryPath(options.models_dir, entry);
    std::error_code error;
    if (!fs::is_regular_file(file, error)) {
      problems.push_back({{"name", entry.name}, {"problem", "missing: no file " + file}});
      continue;
    }
    farm::StatusOr<std::string> sha = farm::Sha256File(file);
    ++hashed;
    if (!sha.ok()) {
      problems.push_back({{"name", entry.name}, {"problem", sha.status().message()}});
    } else if (*sha != entry.sha256) {
      problems.push_back({{"name", entry.name},
                          {"problem", "changed: " + file + " hashes to " + sha->substr(0, 10) +
                                          ", the index says " + entry.autov2 +
                                          "; add it again if the change is meant"}});
    }
  }
  if (options.json) {
    std::cout << ordered_json({{"ok", problems.empty()}, {"checked", index->size()},
                               {"hashed", hashed}, {"problems", problems}})
                     .dump(2)
              << "\n";
  } else {
    for (const auto& p : problems) {
      std::cout << p["name"].get<std::string>() << ": " << p["problem"].get<std::string>() << "\n";
    }
    std::cout << index->size() << " models checked, " << problems.size() << " problems\n";
  }
  return problems.empty() ? kExitOk : kExitFailure;
}

int RunRemove(const GlobalOptions& options, const ModelsArgs& args) {
  auto entry = farm::sweep::FindModel(options.models_dir, args.target);
  if (!entry.ok()) return ReportError(options, entry.status());
  auto index = farm::sweep::ReadModelIndex(options.models_dir);
  if (!index.ok()) return ReportError(options, index.status());
  std::erase_if(*index, [&](const ModelEntry& e) { return e.name == args.target; });
  if (farm::Status written = farm::sweep::WriteModelIndex(options.models_dir, *index); !written.ok()) {
    return ReportError(options, written);
  }
  bool deleted = false;
  if (args.remove_file && !fs::path(entry->path).is_absolute()) {
    std::error_code error;
    deleted = fs::remove(farm::sweep::ModelEntryPath(options.models_dir, *entry), error);
  }
  if (options.json) {
    std::cout << ordered_json({{"ok", true}, {"removed", entry->name}, {"deleted_file", deleted}}).dump(2)
              << "\n";
  } else {
    std::cout << "removed " << entry->name << (deleted ? " and its file " + entry->path : "") << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddModelsCommands(CLI::App& app, GlobalOptions& options, int& exit_code) {
  CLI::App* models = app.add_subcommand(
      "models", "The models folder (--models-dir) and its index: specs name a model as models:NAME");
  models->require_subcommand(1);
  auto args = std::make_shared<ModelsArgs>();
  CLI::App* add = models->add_subcommand(
      "add",
      "Index a .safetensors file, or every one in a folder: detect its kind (sd15, "
      "sd15-inpainting, lora, controlnet, vae, embedding), hash it (SHA-256 and A1111's AutoV2) "
      "and name it (the file's stem, or --as). A file inside the models folder stays where "
      "it is; a file outside it is copied in under <kind>/ unless --link records its absolute "
      "path instead. Pickle files, SD 2.x/SDXL/SD3/Flux, v-prediction and truncated files are "
      "refused with the reason (exit 1; a folder's other files are still added). Unchanged "
      "files (same size and mtime) are not hashed again.");
  add->add_option("FILE_OR_DIR", args->target, "A .safetensors file or a folder")->required();
  add->add_option("--as", args->as_name, "The name for a single file (default: its stem)");
  add->add_flag("--link", args->link, "Keep a file outside the models folder where it is");
  add->callback([&options, &exit_code, args] { exit_code = RunAdd(options, *args); });

  CLI::App* list = models->add_subcommand("list", "The indexed models");
  list->add_option("--kind", args->kind, "Only this kind (sd15, lora, controlnet, ...)");
  list->callback([&options, &exit_code, args] { exit_code = RunList(options, *args); });

  CLI::App* show = models->add_subcommand("show", "One model's kind, dtype, size and hashes");
  show->add_option("NAME", args->target, "The model's name")->required();
  show->callback([&options, &exit_code, args] { exit_code = RunShow(options, *args); });

  CLI::App* verify = models->add_subcommand(
      "verify", "Hash every indexed file again; exit 1 when one is missing or changed");
  verify->callback([&options, &exit_code] { exit_code = RunVerify(options); });

  CLI::App* rm = models->add_subcommand("rm", "Drop a model from the index");
  rm->add_option("NAME", args->target, "The model's name")->required();
  rm->add_flag("--delete", args->remove_file,
               "Also delete its file when it lies inside the models folder");
  rm->callback([&options, &exit_code, args] { exit_code = RunRemove(options, *args); });
}

}  // namespace farmctl
