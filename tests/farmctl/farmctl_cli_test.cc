// Runs the farmctl binary as a user or a script would: exit codes, --json output,
// --help on every verb, and errors that name the file.
#include <gtest/gtest.h>

#include "shell_run.h"
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "farm/schemas/render_params.h"
#include "farm/schemas/sha256.h"

namespace {

namespace fs = std::filesystem;

using farmctl_test::CliRun;
using farmctl_test::Shell;

std::string SourceDir() {
  const char* dir = std::getenv("FARM_SOURCE_DIR");
  return dir ? dir : ".";
}

// Runs farmctl with `args` (already shell-quoted where needed) from a scratch directory.
CliRun Farmctl(const std::string& args, const std::string& cwd, bool merge_stderr = true) {
  const std::string command = "cd '" + cwd + "' && STUDIOFARM_DB= '" FARMCTL_PATH "' " + args +
                              (merge_stderr ? " 2>&1" : " 2>/dev/null");
  return Shell(command);
}

class FarmctlCliTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) /
           ("farmctl_cli_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Experiment(const std::string& name) const {
    return "'" + SourceDir() + "/experiments/" + name + "'";
  }
  std::string Write(const std::string& name, const std::string& content) const {
    std::ofstream(dir_ / name) << content;
    return (dir_ / name).string();
  }

  fs::path dir_;
};

TEST_F(FarmctlCliTest, VersionAndHelpSucceed) {
  CliRun version = Farmctl("--version", dir_);
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("farmctl "), std::string::npos);
  for (const char* verb : {"", "sweep", "sweep validate", "sweep expand", "db", "db init", "keys", "keys gen",
                           "db migrate", "db info", "watch", "token", "token new"}) {
    CliRun help = Farmctl(std::string(verb) + " --help", dir_);
    EXPECT_EQ(help.exit_code, 0) << verb << ": " << help.out;
    EXPECT_NE(help.out.find("Usage"), std::string::npos) << verb;
  }
}

TEST_F(FarmctlCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Farmctl("", dir_).exit_code, 2);
  EXPECT_EQ(Farmctl("no-such-verb", dir_).exit_code, 2);
  EXPECT_EQ(Farmctl("sweep validate", dir_).exit_code, 2);  // missing FILE
  EXPECT_EQ(Farmctl("sweep expand x.yaml --limit notanumber", dir_).exit_code, 2);
}

TEST_F(FarmctlCliTest, ValidatesEveryShippedExperiment) {
  for (const auto& entry : fs::directory_iterator(SourceDir() + "/experiments")) {
    if (entry.path().extension() != ".yaml") continue;
    // The models and photos they name are not shipped: the specs alone.
    CliRun run = Farmctl("sweep validate --no-files '" + entry.path().string() + "'", dir_);
    EXPECT_EQ(run.exit_code, 0) << entry.path() << ":\n" << run.out;
  }
}

TEST_F(FarmctlCliTest, ExpandJsonListsEveryJobWithItsCanonicalRecord) {
  // The checkpoint by hash and a photo next to the spec: nothing outside the test's folder.
  Write("a.jpg", "a photo");
  const std::string checkpoint(64, 'a');
  const std::string spec = Write(
      "tiny.yaml",
      "name: tiny\nidentity: {name: t, photos: a.jpg, token: sks person}\n"
      "checkpoint: {sha256: " + checkpoint + "}\n"
      "render: {prompt: 'photo of {token}', sampler: Euler, seeds: [1, 2]}\n"
      "grid: {cfg: [5, 7]}\n");
  // --limit only shortens the table: the JSON lists every job.
  CliRun run = Farmctl("sweep expand '" + spec + "' --limit 3 --json", dir_, /*merge_stderr=*/false);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const auto json = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << run.out;
  EXPECT_EQ(json["ok"], true);
  EXPECT_EQ(json["name"], "tiny");
  EXPECT_EQ(json["count"], (nlohmann::json{{"jobs", 4}, {"prepare", 0}, {"train", 0}, {"render", 4}, {"score", 0}}));

  // Values per swept parameter with the renders each one gets.
  std::map<std::string, std::map<std::string, int>> parameters;
  for (const auto& p : json["parameters"]) {
    for (const auto& v : p["values"]) {
      const auto& value = v["value"];  // as the table shows it: text
      parameters[p["name"]][value.is_string() ? value.get<std::string>() : value.dump()] = v["renders"];
    }
  }
  EXPECT_EQ(parameters["seed"], (std::map<std::string, int>{{"1", 2}, {"2", 2}})) << run.out;
  EXPECT_EQ(parameters["cfg"].size(), 2u) << run.out;

  // Every job: a render record of the grid whose param_hash is the hash of that record.
  ASSERT_EQ(json["jobs"].size(), 4u) << run.out;
  std::set<std::pair<double, std::uint64_t>> grid;
  std::set<std::string> hashes;
  for (std::size_t i = 0; i < json["jobs"].size(); ++i) {
    const auto& job = json["jobs"][i];
    EXPECT_EQ(job["index"], i);
    EXPECT_EQ(job["kind"], "render");
    EXPECT_TRUE(job["depends_on"].empty()) << job.dump();
    const auto& params = job["params"];
    EXPECT_EQ(params["prompt"], "photo of sks person") << job.dump();
    EXPECT_EQ(params["sampler"], "Euler");
    EXPECT_EQ(params["checkpoint"], checkpoint);
    grid.insert({params["cfg"].get<double>(), params["seed"].get<std::uint64_t>()});
    auto record = farm::RenderParamsFromJson(params.dump());
    ASSERT_TRUE(record.ok()) << record.status().ToString() << "\n" << job.dump();
    auto hash = farm::ParamHash(*record);
    ASSERT_TRUE(hash.ok()) << hash.status().ToString();
    EXPECT_EQ(job["param_hash"], *hash) << job.dump();
    hashes.insert(job["param_hash"].get<std::string>());
  }
  EXPECT_EQ(grid, (std::set<std::pair<double, std::uint64_t>>{{5, 1}, {5, 2}, {7, 1}, {7, 2}}));
  EXPECT_EQ(hashes.size(), 4u);
}

TEST_F(FarmctlCliTest, InvalidSpecExitsOneAndNamesFileLineColumn) {
  const std::string spec = Write("bad.yaml", "name: x\nrender:\n  stepz: 20\n");
  CliRun run = Farmctl("sweep validate '" + spec + "'", dir_);
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("bad.yaml:3:3"), std::string::npos) << run.out;
}

TEST_F(FarmctlCliTest, ValidateReadsEveryFileTheSpecNames) {
  // A LoRA whose header promises 16 bytes of tensor data that the file does not hold, a
  // checkpoint, a VAE and an embedding that are not there, a photo that is text.
  const std::string header =
      "{\"lora_unet_a.lora_down.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],"
      "\"data_offsets\":[0,16]}}";
  std::string lora(8, '\0');
  for (int i = 0; i < 8; ++i) lora[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  Write("lora.safetensors", lora + header + "short");
  Write("me.jpg", "not a photo");
  const std::string spec = Write(
      "files.yaml",
      "name: files\nidentity: {name: t, photos: me.jpg, token: sks person}\n"
      "checkpoint: {path: missing.safetensors}\n"
      "vae: {path: missing-vae.safetensors}\n"
      "embeddings: [missing-ti.safetensors]\n"
      "loras:\n  face: {path: lora.safetensors}\n"
      "render: {prompt: 'photo of {token}', sampler: Euler, cfg: 7, seeds: [1], lora: face}\n");
  CliRun run = Farmctl("sweep validate '" + spec + "'", dir_);
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("5 problems"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("embeddings (missing-ti): " + (dir_ / "missing-ti.safetensors").string() +
                         ": no such file; expected a textual-inversion embedding"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("vae: " + (dir_ / "missing-vae.safetensors").string() + ": no such file; expected a VAE"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("checkpoint: " + (dir_ / "missing.safetensors").string() +
                         ": no such file; expected an SD 1.5 checkpoint"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("loras.face: " + (dir_ / "lora.safetensors").string() + ": truncated"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("identity.photos: " + (dir_ / "me.jpg").string() + ": not an image"),
            std::string::npos)
      << run.out;
  CliRun json_run = Farmctl("sweep validate --json '" + spec + "'", dir_, /*merge_stderr=*/false);
  EXPECT_EQ(json_run.exit_code, 1);
  const auto answer = nlohmann::json::parse(json_run.out, nullptr, false);
  ASSERT_TRUE(answer.is_object()) << json_run.out;
  EXPECT_EQ(answer["error"].value("code", ""), "not_found") << json_run.out;
  // The spec alone is fine.
  CliRun spec_only = Farmctl("sweep validate --no-files '" + spec + "'", dir_);
  EXPECT_EQ(spec_only.exit_code, 0) << spec_only.out;
}

TEST_F(FarmctlCliTest, MissingSpecFileExitsOne) {
  CliRun run = Farmctl("sweep validate does-not-exist.yaml", dir_);
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("does-not-exist.yaml"), std::string::npos) << run.out;
}

TEST_F(FarmctlCliTest, DbInitThenInfoReportsTheSchemaVersion) {
  ASSERT_EQ(Farmctl("db init --db farm.db", dir_).exit_code, 0);
  EXPECT_EQ(Farmctl("db init --db farm.db", dir_).exit_code, 0) << "init must be repeatable";
  EXPECT_EQ(Farmctl("db migrate --db farm.db", dir_).exit_code, 0);
  CliRun info = Farmctl("db info --db farm.db --json", dir_, /*merge_stderr=*/false);
  ASSERT_EQ(info.exit_code, 0) << info.out;
  const auto json = nlohmann::json::parse(info.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << info.out;
  EXPECT_NE(info.out.find("schema_version"), std::string::npos) << info.out;
}

TEST_F(FarmctlCliTest, DbInfoOnANonDatabaseFileIsAClearError) {
  Write("junk.db", std::string(8192, 'j'));
  CliRun run = Farmctl("db info --db junk.db", dir_);
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("junk.db"), std::string::npos) << run.out;

  CliRun json = Farmctl("db info --db junk.db --json", dir_, /*merge_stderr=*/false);
  EXPECT_EQ(json.exit_code, 1);
  const auto parsed = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << json.out;
  EXPECT_EQ(parsed["ok"], false);
}

TEST_F(FarmctlCliTest, DbMigrateOnAMissingDatabaseFails) {
  CliRun run = Farmctl("db migrate --db nothing-here.db", dir_);
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_FALSE(fs::exists(dir_ / "nothing-here.db")) << "migrate must not create a database";
}

}  // namespace

namespace {

TEST_F(FarmctlCliTest, KeysGenWritesAPairAndRefusesToOverwrite) {
  CliRun gen = Farmctl("keys gen --out farmd --json", dir_, /*merge_stderr=*/false);
  ASSERT_EQ(gen.exit_code, 0) << gen.out;
  const auto json = nlohmann::json::parse(gen.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << gen.out;
  ASSERT_TRUE(json.contains("public_key"));
  EXPECT_EQ(json["public_key"].get<std::string>().size(), 40u);  // Z85 of 32 bytes
  EXPECT_TRUE(fs::exists(dir_ / "farmd.key"));
  EXPECT_TRUE(fs::exists(dir_ / "farmd.pub"));
  const auto perms = fs::status(dir_ / "farmd.key").permissions();
  EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none)
      << "the secret key file must be private";

  EXPECT_EQ(Farmctl("keys gen --out farmd", dir_).exit_code, 1) << "must not overwrite a key";
  EXPECT_EQ(Farmctl("keys gen --out farmd --force", dir_).exit_code, 0);
  EXPECT_EQ(Farmctl("keys gen", dir_).exit_code, 2) << "--out is required";
}

TEST_F(FarmctlCliTest, TokenNewPrintsATokenAndItsDigestLine) {
  std::set<std::string> tokens;
  for (const std::string kind : {"read", "admin"}) {
    CliRun made = Farmctl("token new --json --kind " + kind, dir_, /*merge_stderr=*/false);
    ASSERT_EQ(made.exit_code, 0) << made.out;
    const auto json = nlohmann::json::parse(made.out, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << made.out;
    const std::string token = json.value("token", "");
    EXPECT_EQ(token.size(), 64u) << made.out;  // 32 random bytes as hex
    EXPECT_EQ(json.value("tokens_file_line", ""), kind + " sha256:" + farm::Sha256Hex(token));
    tokens.insert(token);
  }
  EXPECT_EQ(tokens.size(), 2u) << "two tokens must differ";
  CliRun plain = Farmctl("token new", dir_, /*merge_stderr=*/false);
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_NE(plain.out.find("admin sha256:"), std::string::npos) << plain.out;
  EXPECT_EQ(Farmctl("token new --kind root", dir_).exit_code, 2) << "unknown kind";
}

}  // namespace
