// A farmd event loop on a FakeClock, a temp database and the in-process agent link, plus
// agent-side helpers (register, wait for a message kind, upload and report a result).
#pragma once

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "farm/farmd/coordinator.h"
#include "farm/scheduler/clock.h"
#include "farm/store/store.h"
#include "farm/sweep/resolver.h"
#include "farm/transport/in_process_agent_link.h"

namespace farm::farmd::testing {

namespace v1 = studiofarm::v1;

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Hashes derived from names: no model or photo files needed.
class FakeResolver : public sweep::SpecResolver {
 public:
  StatusOr<std::string> ResolveModel(const sweep::ModelRef& model) override;
  StatusOr<std::string> ResolvePhotoSet(const std::vector<std::string>& globs) override;
  // One photo per glob: path without "models:/", sha256 derived from the glob.
  StatusOr<std::vector<PreparePhoto>> ResolvePhotos(const std::vector<std::string>& globs) override;
};

// A valid spec with `seeds` render jobs (plus one score job each when `score`).
std::string SpecYaml(int seeds, bool score = false, const std::string& name = "t");

// An artifact an agent uploads: its name in the result and its bytes.
struct TestArtifact {
  std::string name;
  std::string bytes;
};

class Farm {
 public:
  // `options.artifact_root` defaults to <dir>/artifacts. Fast loop settings for tests:
  // tick every RunOnce, 1 ms receive timeout.
  explicit Farm(std::filesystem::path dir, CoordinatorOptions options = {});
  ~Farm();

  // Opens the store at <dir>/farm.db and creates the coordinator (restoring state).
  void Open();
  // Drops the coordinator and the store without any shutdown step, as kill -9 would.
  void Crash();

  // RunOnce `n` times, advancing the clock by `step_ms` before each.
  void Pump(int n = 3, scheduler::TimeMs step_ms = 1);

  // Connects `id` and registers it; returns the end once the Welcome arrived.
  std::unique_ptr<transport::FakeAgentEnd> Join(const std::string& id, int slots = 1);
  // Pumps until a message with `body` reaches `end` (others stay unread for later
  // Awaits, in order); nullopt after
  // `max_pumps` iterations.
  std::optional<v1::Envelope> Await(transport::FakeAgentEnd& end, v1::Envelope::BodyCase body,
                                    int max_pumps = 50);

  // Submits a synthetic sweep of `seeds` jobs.
  SubmitResult Submit(int seeds, bool score = false);

  // Uploads `artifacts` in chunks of `chunk` bytes (declaring `declared_sha` when given
  // instead of the true digest) and sends the result. Does not pump.
  void Upload(transport::FakeAgentEnd& end, const v1::LeaseRef& lease, const TestArtifact& artifact,
              std::size_t chunk = 4, const std::string& declared_sha = "");
  // `held_models`, when given, is sent as the result's HeldModels.
  void Report(transport::FakeAgentEnd& end, const v1::LeaseRef& lease, v1::ResultStatus status,
              const std::vector<TestArtifact>& artifacts, const std::string& declared_sha = "",
              const std::optional<std::vector<std::string>>& held_models = std::nullopt);

  Coordinator& coordinator() { return *coordinator_; }
  store::Store& store() { return *store_; }
  transport::InProcessAgentLink& link() { return link_; }
  scheduler::FakeClock& clock() { return clock_; }
  const std::filesystem::path& artifact_root() const { return artifact_root_; }
  std::filesystem::path db_path() const { return dir_ / "farm.db"; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path artifact_root_;
  CoordinatorOptions options_;
  scheduler::FakeClock clock_;
  transport::InProcessAgentLink link_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Coordinator> coordinator_;
  // Messages Await read while looking for another kind, per agent id, in arrival order.
  std::map<std::string, std::deque<v1::Envelope>> unread_;
};

// Rows of the store, for exactly-once checks.
int CountAttempts(store::Store& store, std::int64_t job, store::AttemptOutcome outcome);
int CountFiles(const std::filesystem::path& dir);  // regular files, recursively

// Synthetic face-ID scores for tests whose fake agent scores renders as a function of the
// record: one identity "alice" whose single photo (sha256 `photo`) has the descriptor
// [1, 0, 0, 0], a resolver that resolves any photo glob to that photo set, and the
// "faces" artifact of a render whose one face has cosine `cosine` against it (nullopt:
// no face in the render).
store::NewIdentity UnitIdentity(const std::string& photo);
class UnitPhotoResolver : public FakeResolver {
 public:
  explicit UnitPhotoResolver(std::string photo) : photo_(std::move(photo)) {}
  StatusOr<std::string> ResolvePhotoSet(const std::vector<std::string>& globs) override;

 private:
  std::string photo_;
};
std::string FacesWithCosine(std::optional<double> cosine);

// For tests that move the fake clock in seconds while their agent sends no heartbeats:
// it is not declared lost, nor its leases expired, meanwhile.
CoordinatorOptions PatientOptions();

}  // namespace farm::farmd::testing
