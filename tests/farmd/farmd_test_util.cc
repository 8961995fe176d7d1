#include "farmd_test_util.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <chrono>
#include <random>
#include <set>

#include "farm/schemas/sha256.h"

namespace farm::farmd::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device device;
  path_ = fs::temp_directory_path() /
          ("farmd-test-" + std::to_string(device()) + "-" + std::to_string(counter++));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

StatusOr<std::string> FakeResolver::ResolveModel(const sweep::ModelRef& model) {
  if (!model.sha256.empty()) return model.sha256;
  return Sha256Hex("model:" + model.path);
}

StatusOr<std::string> FakeResolver::ResolvePhotoSet(const std::vector<std::string>& globs) {
  std::string joined;
  for (const auto& glob : globs) joined += glob + "\n";
  return Sha256Hex("photos:" + joined);
}

StatusOr<std::vector<PreparePhoto>> FakeResolver::ResolvePhotos(const std::vector<std::string>& globs) {
  std::vector<PreparePhoto> photos;
  for (const std::string& glob : globs) {
    photos.push_back({glob.starts_with("models:/") ? glob.substr(8) : glob, Sha256Hex("photo:" + glob)});
  }
  return photos;
}

std::string SpecYaml(int seeds, bool score, const std::string& name) {
  std::string list;
  for (int i = 1; i <= seeds; ++i) list += (i == 1 ? "" : ", ") + std::to_string(i);
  std::string yaml =
      "name: " + name +
      "\n"
      "identity: {name: alice, photos: photos/*.jpg, token: sks person}\n"
      "checkpoint: {sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n"
      "render:\n"
      "  prompt: \"photo of {token}\"\n"
      "  sampler: Euler\n"
      "  seeds: [" +
      list + "]\n";
  if (score) yaml += "score: {metric: cosine}\n";
  return yaml;
}

Farm::Farm(fs::path dir, CoordinatorOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  if (options_.artifact_root.empty()) options_.artifact_root = (dir_ / "artifacts").string();
  artifact_root_ = options_.artifact_root;
  options_.tick_interval_ms = 1;
  options_.receive_timeout = std::chrono::milliseconds(1);
  if (options_.session_id.empty()) options_.session_id = "test-session";
}

Farm::~Farm() { Crash(); }

void Farm::Open() {
  store::StoreOptions store_options;
  store_options.clock_ms = [this] { return clock_.NowMs(); };
  auto store = store::Store::Open(db_path().string(), store::OpenMode::kReadWrite, store_options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(*store);
  auto coordinator = Coordinator::Create(options_, *store_, link_, clock_);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status().ToString();
  coordinator_ = std::move(*coordinator);
}

void Farm::Crash() {
  coordinator_.reset();
  store_.reset();
}

void Farm::Pump(int n, scheduler::TimeMs step_ms) {
  for (int i = 0; i < n; ++i) {
    clock_.Advance(step_ms);
    Status status = coordinator_->RunOnce();
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
}

std::unique_ptr<transport::FakeAgentEnd> Farm::Join(const std::string& id, int slots) {
  unread_.erase(id);  // a new connection: what the old one did not read is gone
  auto end = link_.Connect(id);
  v1::Envelope reg;
  reg.mutable_register_()->set_agent_id(id);
  reg.mutable_register_()->set_protocol_version(kProtocolVersion);
  reg.mutable_register_()->set_hostname("host-" + id);
  reg.mutable_register_()->set_agent_version("test");
  reg.mutable_register_()->mutable_capabilities()->set_device_kind(v1::DEVICE_KIND_CPU);
  reg.mutable_register_()->mutable_capabilities()->set_slots(static_cast<std::uint32_t>(slots));
  EXPECT_TRUE(end->Send(reg).ok());
  EXPECT_TRUE(Await(*end, v1::Envelope::kWelcome).has_value()) << id << " got no Welcome";
  return end;
}

std::optional<v1::Envelope> Farm::Await(transport::FakeAgentEnd& end, v1::Envelope::BodyCase body,
                                        int max_pumps) {
  std::deque<v1::Envelope>& unread = unread_[end.id()];
  for (int i = 0; i <= max_pumps; ++i) {
    while (auto message = end.Receive(std::chrono::milliseconds(0))) {
      unread.push_back(std::move(*message));
    }
    for (auto it = unread.begin(); it != unread.end(); ++it) {
      if (it->body_case() != body) continue;
      v1::Envelope found = std::move(*it);
      unread.erase(it);
      return found;
    }
    if (i < max_pumps) Pump(1);
  }
  return std::nullopt;
}

SubmitResult Farm::Submit(int seeds, bool score) {
  FakeResolver resolver;
  SubmitOptions options;
  options.synthetic = true;
  options.synthetic_cpu_ms = 5;
  options.synthetic_bytes = 16;
  auto result = coordinator_->SubmitSweep(SpecYaml(seeds, score), "t.yaml", {}, resolver, options);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : SubmitResult{};
}

void Farm::Upload(transport::FakeAgentEnd& end, const v1::LeaseRef& lease,
                  const TestArtifact& artifact, std::size_t chunk,
                  const std::string& declared_sha) {
  const std::string sha = declared_sha.empty() ? Sha256Hex(artifact.bytes) : declared_sha;
  std::size_t offset = 0;
  do {
    v1::Envelope envelope;
    v1::ArtifactChunk* c = envelope.mutable_artifact_chunk();
    c->mutable_lease()->CopyFrom(lease);
    c->set_sha256(sha);
    c->set_offset(offset);
    const std::size_t n = std::min(chunk, artifact.bytes.size() - offset);
    c->set_data(artifact.bytes.substr(offset, n));
    offset += n;
    c->set_last(offset == artifact.bytes.size());
    EXPECT_TRUE(end.Send(envelope).ok());
  } while (offset < artifact.bytes.size());
}

void Farm::Report(transport::FakeAgentEnd& end, const v1::LeaseRef& lease, v1::ResultStatus status,
                  const std::vector<TestArtifact>& artifacts, const std::string& declared_sha,
                  const std::optional<std::vector<std::string>>& held_models) {
  v1::Envelope envelope;
  v1::JobResult* result = envelope.mutable_job_result();
  result->mutable_lease()->CopyFrom(lease);
  result->set_status(status);
  if (status == v1::RESULT_STATUS_FAILED) result->set_error("synthetic failure");
  std::set<std::string> uploaded;  // as the agent does: the same bytes go once
  for (const TestArtifact& artifact : artifacts) {
    if (uploaded.insert(artifact.bytes).second) Upload(end, lease, artifact, 4, declared_sha);
    v1::ArtifactDescriptor* d = result->add_artifacts();
    d->set_name(artifact.name);
    d->set_sha256(declared_sha.empty() ? Sha256Hex(artifact.bytes) : declared_sha);
    d->set_size_bytes(artifact.bytes.size());
    d->set_media_type("application/octet-stream");
  }
  if (held_models) {
    v1::HeldModels* held = result->mutable_held_models();
    for (const std::string& sha : *held_models) held->add_sha256(sha);
  }
  EXPECT_TRUE(end.Send(envelope).ok());
}

int CountAttempts(store::Store& store, std::int64_t job, store::AttemptOutcome outcome) {
  auto attempts = store.ListAttempts(job);
  EXPECT_TRUE(attempts.ok()) << attempts.status().ToString();
  int n = 0;
  if (attempts.ok()) {
    for (const auto& a : *attempts) n += a.outcome == outcome ? 1 : 0;
  }
  return n;
}

int CountFiles(const fs::path& dir) {
  int n = 0;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    n += entry.is_regular_file() ? 1 : 0;
  }
  return n;
}

store::NewIdentity UnitIdentity(const std::string& photo_sha256) {
  store::NewIdentity alice;
  alice.name = "alice";
  alice.instance_token = "sks person";
  store::NewIdentityPhoto photo;
  photo.sha256 = photo_sha256;
  photo.path = "photos/a.jpg";
  photo.face_count = 1;
  photo.descriptor = {1, 0, 0, 0};
  photo.descriptor_model = "face-model-1";
  alice.photos.push_back(photo);
  return alice;
}

StatusOr<std::string> UnitPhotoResolver::ResolvePhotoSet(const std::vector<std::string>&) {
  return PhotoSetDigest({photo_});
}

std::string FacesWithCosine(std::optional<double> cosine) {
  std::string faces;
  if (cosine) {
    const double s = *cosine;
    faces = "{\"index\":0,\"score\":0.9,\"box\":{\"x\":1,\"y\":2,\"width\":10,\"height\":12},"
            "\"descriptor\":[" + std::to_string(s) + "," + std::to_string(std::sqrt(1 - s * s)) + ",0,0]}";
  }
  return "{\"model_version\":\"face-model-1\",\"width\":64,\"height\":64,\"faces\":[" + faces + "]}";
}

CoordinatorOptions PatientOptions() {
  CoordinatorOptions options;
  options.scheduler.heartbeat_liveness = 100000;
  options.scheduler.lease_timeout_ms = 60'000;
  return options;
}

}  // namespace farm::farmd::testing
