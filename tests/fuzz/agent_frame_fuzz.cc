#include "agent_frame_fuzz.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "farm/farmd/coordinator.h"
#include "farm/scheduler/clock.h"
#include "farm/schemas/sha256.h"
#include "farm/store/store.h"
#include "farm/transport/in_process_agent_link.h"
#include "farm/transport/wire_frame.h"

namespace farm::fuzz {
namespace {

namespace fs = std::filesystem;
namespace v1 = studiofarm::v1;

// Hashes derived from names: no model or photo files needed.
class NameResolver : public sweep::SpecResolver {
 public:
  StatusOr<std::string> ResolveModel(const sweep::ModelRef& model) override {
    return model.sha256.empty() ? Sha256Hex("model:" + model.path) : model.sha256;
  }
  StatusOr<std::string> ResolvePhotoSet(const std::vector<std::string>&) override {
    return Sha256Hex("photos");
  }
};

[[noreturn]] void Die(const Status& status) {
  std::fprintf(stderr, "fuzz setup failed: %s\n", status.ToString().c_str());
  std::abort();
}

// One farm for the whole process: a database with a sweep of synthetic jobs, and agent
// "fuzz" registered and holding leases, so that results and chunks for real leases
// reach the deep paths. Inputs arrive as frames from "fuzz".
class FuzzFarm {
 public:
  FuzzFarm() {
    spdlog::set_level(spdlog::level::off);  // every bad frame is logged: too slow to fuzz
    dir_ = fs::temp_directory_path() / ("farm_fuzz_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto store = store::Store::Open((dir_ / "farm.db").string(), store::OpenMode::kReadWrite);
    if (!store.ok()) Die(store.status());
    store_ = std::move(*store);
    farmd::CoordinatorOptions options;
    options.artifact_root = (dir_ / "artifacts").string();
    options.receive_timeout = std::chrono::milliseconds(0);
    options.tick_interval_ms = 1;
    options.max_artifact_bytes = 1 << 20;
    auto coordinator = farmd::Coordinator::Create(options, *store_, link_, clock_);
    if (!coordinator.ok()) Die(coordinator.status());
    coordinator_ = std::move(*coordinator);

    NameResolver resolver;
    farmd::SubmitOptions submit;
    submit.synthetic = true;
    const std::string spec =
        "name: fuzz\n"
        "identity: {name: a, photos: p/*.jpg, token: sks person}\n"
        "checkpoint: {sha256: " + std::string(64, 'a') + "}\n"
        "render: {prompt: \"photo of {token}\", sampler: Euler, seeds: [1, 2, 3, 4, 5, 6, 7, 8]}\n";
    auto submitted = coordinator_->SubmitSweep(spec, "fuzz.yaml", {}, resolver, submit);
    if (!submitted.ok()) Die(submitted.status());

    end_ = link_.Connect("fuzz");
    v1::Envelope reg;
    reg.mutable_register_()->set_agent_id("fuzz");
    reg.mutable_register_()->set_protocol_version(farmd::kProtocolVersion);
    reg.mutable_register_()->set_hostname("fuzz");
    reg.mutable_register_()->mutable_capabilities()->set_device_kind(v1::DEVICE_KIND_CPU);
    reg.mutable_register_()->mutable_capabilities()->set_slots(4);
    if (Status sent = end_->Send(reg); !sent.ok()) Die(sent);
    Pump(5);
  }

  ~FuzzFarm() {
    end_.reset();
    coordinator_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Feed(std::string_view frame) {
    // The links' decoder first, as farmd sees the bytes; then the coordinator.
    v1::Envelope envelope;
    if (!transport::DecodeAgentFrame(frame, limits_, &envelope).ok()) return;
    if (!end_->SendRaw(std::string(frame)).ok()) {
      // The agent end was handed over or the queue is full: reconnect and drain.
      end_ = link_.Connect("fuzz");
      Pump(1);
      return;
    }
    Pump(1);
    // Drop what farmd sent, so the agent's queue never fills.
    while (end_->Receive(std::chrono::milliseconds(0))) {
    }
  }

 private:
  void Pump(int n) {
    for (int i = 0; i < n; ++i) {
      clock_.Advance(1);
      if (Status status = coordinator_->RunOnce(); !status.ok()) Die(status);
    }
  }

  fs::path dir_;
  transport::LinkLimits limits_;
  transport::InProcessAgentLink link_{limits_};
  // Starts at the real time: the store stamps attempts with it and checks deadlines.
  scheduler::FakeClock clock_{scheduler::SystemClock().NowMs()};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<farmd::Coordinator> coordinator_;
  std::unique_ptr<transport::FakeAgentEnd> end_;
};

}  // namespace

int FuzzAgentFrame(const std::uint8_t* data, std::size_t size) {
  static FuzzFarm* farm = new FuzzFarm();  // never destroyed: libFuzzer exits without unwinding
  farm->Feed(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

}  // namespace farm::fuzz
