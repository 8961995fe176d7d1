#include "identity_prepare.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent_call.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "program_path.h"

namespace farmctl {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;

struct PrepareArgs {
  std::string name;
  std::string out;  // empty: 'datasets' next to the database
  double ratio = 3.0;
  int resolution = 512;
  std::string caption = "a photo of {token}";
  std::string pick;  // "", "largest" or "single"; empty follows the identity
  bool flip = false;
  std::string checkpoint;
  std::string agent_path;
};

std::string Number(double value) {
  std::ostringstream text;
  text.precision(17);
  text << value;
  return text.str();
}

// Every photo must still be the file `identity add` hashed: the dataset is meant to be of
// the identity the database describes.
farm::Status CheckPhotos(const farm::store::Identity& identity) {
  if (identity.photos.empty()) {
    return farm::FailedPrecondition("identity '" + identity.name + "' has no photos");
  }
  for (const farm::store::IdentityPhoto& photo : identity.photos) {
    farm::StatusOr<std::string> digest = farm::Sha256File(photo.path);
    if (!digest.ok()) {
      return farm::NotFound("identity '" + identity.name + "': photo " + photo.path +
                            " cannot be read (" + digest.status().message() +
                            "); it was recorded by `farmctl identity add`");
    }
    if (*digest != photo.sha256) {
      return farm::FailedPrecondition("identity '" + identity.name + "': photo " + photo.path +
                                      " changed since `farmctl identity add` (SHA-256 " + digest->substr(0, 12) +
                                      ", recorded " + photo.sha256.substr(0, 12) + ")");
    }
  }
  return farm::Status::Ok();
}

// `identity add` keeps a photo with several faces only with --pick largest, so an
// identity holding one was added that way and is prepared that way unless told otherwise.
bool PickLargest(const farm::store::Identity& identity, const std::string& pick) {
  if (!pick.empty()) return pick == "largest";
  for (const farm::store::IdentityPhoto& photo : identity.photos) {
    if (photo.face_count && *photo.face_count > 1) return true;
  }
  return false;
}

int Run(const GlobalOptions& options, const PrepareArgs& args) {
  const std::string db_path = EffectiveDbPath(options);
  if (db_path.empty()) return ReportError(options, farm::InvalidArgument("no database path: pass --db PATH"));
  auto store = farm::store::Store::Open(db_path, farm::store::OpenMode::kReadOnly);
  if (!store.ok()) return ReportError(options, store.status());
  auto identity = (*store)->GetIdentityByName(args.name);
  if (!identity.ok()) return ReportError(options, identity.status());
  if (farm::Status checked = CheckPhotos(*identity); !checked.ok()) return ReportError(options, checked);

  const fs::path chosen = args.out.empty() ? fs::path(db_path).parent_path() / "datasets" : fs::path(args.out);
  std::error_code ec;
  const fs::path absolute = fs::absolute(chosen, ec);
  const std::string out = (ec ? chosen : absolute).lexically_normal().string();
  std::vector<std::string> agent_args = {"prepare",      "--identity",   identity->name,
                                         "--token",      identity->instance_token,
                                         "--out",        out,
                                         "--ratio",      Number(args.ratio),
                                         "--resolution", std::to_string(args.resolution),
                                         "--caption",    args.caption,
                                         "--json"};
  if (PickLargest(*identity, args.pick)) {
    agent_args.push_back("--pick");
    agent_args.push_back("largest");
  }
  if (!args.checkpoint.empty()) {
    agent_args.push_back("--checkpoint");
    agent_args.push_back(args.checkpoint);
    if (args.flip) agent_args.push_back("--flip");
  }
  if (!options.models_dir.empty()) {
    agent_args.push_back("--face-models");
    agent_args.push_back(options.models_dir);
  }
  agent_args.push_back("--photos");
  for (const farm::store::IdentityPhoto& photo : identity->photos) agent_args.push_back(photo.path);

  if (!options.json) {
    std::fprintf(stderr, "preparing %zu photos of '%s' with farm-agent...\n", identity->photos.size(),
                 identity->name.c_str());
  }
  auto answer = RunAgentJson(FindAgentProgram(args.agent_path), agent_args);
  if (!answer.ok()) return ReportError(options, answer.status());
  const Json& value = answer->value;
  if (!value.value("ok", false)) {
    std::string message = "farm-agent prepare failed";
    if (value.contains("error") && value["error"].is_object()) {
      message = value["error"].value("message", message);
    }
    return ReportError(options, farm::FailedPrecondition("identity '" + identity->name + "': " + message));
  }
  if (options.json) {
    std::cout << value.dump(2) << "\n";
    return kExitOk;
  }
  try {
    std::cout << "dataset " << value.at("dataset_id").get<std::string>()
              << (value.at("reused").get<bool>() ? " (already prepared)" : "") << "\n"
              << "  folder    " << value.at("folder").get<std::string>() << "\n"
              << "  images    " << value.at("images").size() << " at " << value.at("resolution").get<int>()
              << " px, crop ratio " << value.at("crop_ratio").get<double>() << "\n";
    for (const Json& skipped : value.at("skipped")) {
      std::cout << "  left out  " << skipped.at("source_name").get<std::string>() << ": "
                << skipped.at("reason").get<std::string>() << "\n";
    }
    for (const Json& warning : value.at("warnings")) std::cout << "  warning   " << warning.get<std::string>() << "\n";
    if (value.contains("latents") && value["latents"].is_object()) {
      std::cout << "  latents   " << value["latents"].at("file").get<std::string>() << "\n";
    }
  } catch (const Json::exception& e) {
    return ReportError(options, farm::DataLoss(std::string("farm-agent prepare's answer is malformed: ") + e.what()));
  }
  return kExitOk;
}

}  // namespace

void AddIdentityPrepareCommand(CLI::App* identity, GlobalOptions& options, int& exit_code) {
  auto args = std::make_shared<PrepareArgs>();
  CLI::App* prepare = identity->add_subcommand(
      "prepare",
      "Prepare an identity's photos for LoRA training (face crops, captions, manifest; VAE "
      "latents with --checkpoint) in a content-addressed dataset folder (one farm-agent call)");
  prepare->add_option("name", args->name, "Identity name")->required();
  prepare->add_option("--out", args->out, "Datasets folder (default: 'datasets' next to the database)");
  prepare->add_option("--ratio", args->ratio, "Crop side over the face box's longer side (EasyPhoto: about 3)")
      ->check(CLI::Range(1.0, 10.0))
      ->capture_default_str();
  prepare->add_option("--resolution", args->resolution, "Training image side in px (a multiple of 8)")
      ->check(CLI::Range(64, 2048))
      ->capture_default_str();
  prepare->add_option("--caption", args->caption, "Caption template; {token} becomes the identity's token")
      ->capture_default_str();
  prepare->add_option("--pick", args->pick,
                      "largest: keep the largest face of a photo with several; single: leave such "
                      "photos out (default: largest when the identity was added with it)")
      ->check(CLI::IsMember({"largest", "single"}));
  CLI::Option* checkpoint = prepare->add_option(
      "--checkpoint", args->checkpoint, "SD 1.5 checkpoint (.safetensors): also cache the VAE latents for it");
  prepare->add_flag("--flip", args->flip, "Also cache the latents of the mirrored images")->needs(checkpoint);
  prepare->add_option("--agent", args->agent_path, "farm-agent executable (default: the build's)");
  prepare->add_option("--db", options.db_path, "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)");
  prepare->callback([&options, &exit_code, args] { exit_code = Run(options, *args); });
}

}  // namespace farmctl
