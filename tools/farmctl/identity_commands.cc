#include "identity_commands.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "farm/faceid/face_score.h"
#include "farm/store/store.h"
#include "identity_prepare.h"
#include "identity_register.h"
#include "program_path.h"

namespace farmctl {
namespace {

namespace fs = std::filesystem;
using farm::store::Identity;
using farm::store::IdentityPhoto;
using farm::store::OpenMode;
using farm::store::Store;
using Json = nlohmann::ordered_json;

struct AddArgs {
  std::string name;
  std::vector<std::string> photos;
  std::string pick;  // "" or "largest"
  std::string token = "sks person";
  std::string agent_path;
};

std::string Fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", digits, value);
  return text;
}

// The one descriptor model of an identity's analysed photos; "" when none is analysed,
// "mixed" when they differ.
std::string DescriptorModelOf(const Identity& identity) {
  std::string model;
  for (const IdentityPhoto& photo : identity.photos) {
    if (photo.descriptor_model.empty()) continue;
    if (model.empty()) model = photo.descriptor_model;
    if (model != photo.descriptor_model) return "mixed";
  }
  return model;
}

farm::faceid::IdentityReference ReferenceOf(const Identity& identity) {
  farm::faceid::IdentityReference reference;
  for (const IdentityPhoto& photo : identity.photos) {
    if (!photo.descriptor.empty()) reference.descriptors.push_back(photo.descriptor);
  }
  return reference;
}

// Opens the database for writing, creating it (and its folder) when missing.
farm::StatusOr<std::unique_ptr<Store>> OpenForWriting(const GlobalOptions& options) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return farm::InvalidArgument("no database path: pass --db PATH");
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::exists(parent, ec) && !fs::create_directories(parent, ec)) {
    return farm::Unavailable(path + ": cannot create directory " + parent.string() + ": " +
                             ec.message());
  }
  return Store::Open(path, OpenMode::kReadWrite);
}

farm::StatusOr<std::unique_ptr<Store>> OpenForReading(const GlobalOptions& options) {
  const std::string path = EffectiveDbPath(options);
  if (path.empty()) return farm::InvalidArgument("no database path: pass --db PATH");
  return Store::Open(path, OpenMode::kReadOnly);
}

int RunAdd(const GlobalOptions& options, const AddArgs& args) {
  if (args.name.empty()) return ReportError(options, farm::InvalidArgument("the identity name is empty"));
  auto store = OpenForWriting(options);
  if (!store.ok()) return ReportError(options, store.status());
  IdentityRequest request;
  request.name = args.name;
  request.token = args.token;
  request.photos = args.photos;
  request.pick_largest = args.pick == "largest";
  request.agent_path = FindAgentProgram(args.agent_path);
  request.models_dir = options.models_dir;
  RegisterResult result = RegisterIdentity(**store, request);
  if (!result.rejected.empty() && options.json) {
    Json rejected = Json::array();
    for (const auto& [photo, why] : result.rejected) rejected.push_back({{"photo", photo}, {"problem", why}});
    std::cout << Json{{"ok", false},
                      {"error", {{"code", "invalid_argument"}, {"message", result.stored.status().message()}}},
                      {"rejected", rejected}}
                     .dump(2)
              << "\n";
    return kExitFailure;
  }
  if (!result.stored.ok()) return ReportError(options, result.stored.status());
  const StoredIdentity& stored = *result.stored;

  if (options.json) {
    Json photos = Json::array();
    for (const StoredPhoto& photo : stored.photos) {
      photos.push_back({{"path", photo.path},
                        {"sha256", photo.sha256},
                        {"face_count", photo.face_count},
                        {"face_used", photo.face_used},
                        {"descriptor_norm", photo.descriptor_norm}});
    }
    std::cout << Json{{"ok", true},
                      {"id", stored.id},
                      {"name", args.name},
                      {"instance_token", args.token},
                      {"descriptor_model", stored.descriptor_model},
                      {"database", (*store)->path()},
                      {"photos", photos}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << "identity '" << args.name << "' (id " << stored.id << "): " << stored.photos.size()
            << " photos, descriptor model " << stored.descriptor_model << "\n";
  for (const StoredPhoto& photo : stored.photos) {
    std::cout << "  " << photo.path << "  " << photo.face_count
              << (photo.face_count == 1 ? " face"
                                        : " faces, kept the largest (#" + std::to_string(photo.face_used) + ")")
              << "\n";
  }
  return kExitOk;
}

Json SummaryJson(const Identity& identity) {
  int analysed = 0;
  for (const IdentityPhoto& photo : identity.photos) analysed += photo.descriptor.empty() ? 0 : 1;
  return {{"id", identity.id},
          {"name", identity.name},
          {"instance_token", identity.instance_token},
          {"photo_count", identity.photos.size()},
          {"analysed_photos", analysed},
          {"descriptor_model", DescriptorModelOf(identity)},
          {"created_at_ms", identity.created_at_ms}};
}

int RunList(const GlobalOptions& options) {
  auto store = OpenForReading(options);
  if (!store.ok()) return ReportError(options, store.status());
  auto identities = (*store)->ListIdentities();
  if (!identities.ok()) return ReportError(options, identities.status());
  if (options.json) {
    Json list = Json::array();
    for (const Identity& identity : *identities) list.push_back(SummaryJson(identity));
    std::cout << Json{{"ok", true}, {"identities", list}}.dump(2) << "\n";
    return kExitOk;
  }
  if (identities->empty()) {
    std::cout << "no identities in " << (*store)->path() << " (farmctl identity add NAME PHOTO...)\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "PHOTOS", "ANALYSED", "DESCRIPTOR MODEL"}};
  for (const Identity& identity : *identities) {
    const Json s = SummaryJson(identity);
    rows.push_back({std::to_string(identity.id), identity.name, std::to_string(identity.photos.size()),
                    std::to_string(s["analysed_photos"].get<int>()), s["descriptor_model"].get<std::string>()});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunShow(const GlobalOptions& options, const std::string& name) {
  auto store = OpenForReading(options);
  if (!store.ok()) return ReportError(options, store.status());
  auto identity = (*store)->GetIdentityByName(name);
  if (!identity.ok()) return ReportError(options, identity.status());
  const farm::faceid::IdentityReference reference = ReferenceOf(*identity);
  // The mean of the photos' descriptor norms (NaN without analysed photos).
  double mean_norm = std::nan("");
  if (!reference.descriptors.empty()) {
    double sum = 0;
    for (const auto& d : reference.descriptors) sum += DescriptorNorm(d);
    mean_norm = sum / static_cast<double>(reference.descriptors.size());
  }
  const farm::faceid::Descriptor centroid = reference.mean();

  if (options.json) {
    Json out = SummaryJson(*identity);
    out["photos_sha256"] = identity->photos_sha256;
    out["mean_descriptor_norm"] = std::isnan(mean_norm) ? Json(nullptr) : Json(mean_norm);
    out["centroid_norm"] = centroid.empty() ? Json(nullptr) : Json(DescriptorNorm(centroid));
    Json photos = Json::array();
    for (const IdentityPhoto& photo : identity->photos) {
      Json p = {{"id", photo.id},
                {"path", photo.path},
                {"sha256", photo.sha256},
                {"face_count", photo.face_count ? Json(*photo.face_count) : Json(nullptr)},
                {"descriptor_model", photo.descriptor_model},
                {"descriptor_norm", photo.descriptor.empty() ? Json(nullptr) : Json(DescriptorNorm(photo.descriptor))},
                {"descriptor", photo.descriptor}};
      // Every face found on the photo, briefly (the database keeps their landmarks and
      // descriptors in identity_photos.faces_json).
      Json faces = nullptr;
      if (!photo.faces_json.empty()) {
        const Json stored = Json::parse(photo.faces_json, nullptr, false);
        if (stored.is_array()) {
          faces = Json::array();
          for (const Json& face : stored) {
            faces.push_back({{"score", face.value("score", 0.0)},
                             {"box", face.value("box", Json::object())},
                             {"used", face.value("used", false)}});
          }
        }
      }
      p["faces"] = std::move(faces);
      photos.push_back(std::move(p));
    }
    Json ordered = {{"ok", true}};
    for (auto& [key, value] : out.items()) ordered[key] = value;
    ordered["photos"] = std::move(photos);
    std::cout << ordered.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "identity '" << identity->name << "' (id " << identity->id << "), token '"
            << identity->instance_token << "'\n"
            << "descriptor model   " << DescriptorModelOf(*identity) << "\n"
            << "photos             " << identity->photos.size() << " (" << reference.descriptors.size()
            << " analysed)\n"
            << "mean |descriptor|  " << (std::isnan(mean_norm) ? "-" : Fixed(mean_norm, 4)) << "\n";
  std::vector<std::vector<std::string>> rows = {{"FACES", "|DESCRIPTOR|", "SHA256", "PATH"}};
  for (const IdentityPhoto& photo : identity->photos) {
    rows.push_back({photo.face_count ? std::to_string(*photo.face_count) : "-",
                    photo.descriptor.empty() ? "-" : Fixed(DescriptorNorm(photo.descriptor), 4),
                    photo.sha256.substr(0, 12), photo.path});
  }
  std::cout << "\n";
  PrintTable(rows);
  return kExitOk;
}

}  // namespace

void AddIdentityCommands(CLI::App& app, GlobalOptions& options, int& exit_code) {
  CLI::App* identity = app.add_subcommand(
      "identity", "Add, list, show and prepare identities (a person's photos and face descriptors)");
  identity->require_subcommand(1);
  const std::string db_help = "Farm database file (default: $STUDIOFARM_DB or .studiofarm/farm.db)";

  auto add_args = std::make_shared<AddArgs>();
  CLI::App* add = identity->add_subcommand(
      "add",
      "Embed the photos (one farm-agent call) and store the identity. Each photo must show "
      "exactly one face, unless --pick largest");
  add->add_option("name", add_args->name, "Identity name (unique)")->required();
  add->add_option("photos", add_args->photos, "Photos of the person (JPEG, PNG, ...)")->required();
  add->add_option("--pick", add_args->pick,
                  "largest: from a photo with several faces keep the one with the largest box")
      ->check(CLI::IsMember({"largest"}));
  add->add_option("--token", add_args->token, "Instance token the LoRA learns")->capture_default_str();
  add->add_option("--agent", add_args->agent_path, "farm-agent executable (default: the build's)");
  add->add_option("--db", options.db_path, db_help);
  add->callback([&options, &exit_code, add_args] { exit_code = RunAdd(options, *add_args); });

  CLI::App* list = identity->add_subcommand("list", "List identities (read-only)");
  list->add_option("--db", options.db_path, db_help);
  list->callback([&options, &exit_code] { exit_code = RunList(options); });

  auto show_name = std::make_shared<std::string>();
  CLI::App* show = identity->add_subcommand(
      "show", "Show an identity's photos, face counts and descriptor norms (read-only)");
  show->add_option("name", *show_name, "Identity name")->required();
  show->add_option("--db", options.db_path, db_help);
  show->callback([&options, &exit_code, show_name] { exit_code = RunShow(options, *show_name); });

  AddIdentityPrepareCommand(identity, options, exit_code);
}

}  // namespace farmctl
