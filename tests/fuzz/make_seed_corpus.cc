// Writes the hand-made seed corpus (valid and invalid agent frames) into a folder:
//   make_seed_corpus tests/fuzz/corpus
// The files are committed; this program documents how they were made and remakes them
// when farm.proto changes.
#include <cstdio>
#include <fstream>
#include <string>

#include "farm.pb.h"
#include "farm/schemas/sha256.h"

namespace {

namespace v1 = studiofarm::v1;

bool Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out << bytes;
  return static_cast<bool>(out);
}

v1::LeaseRef Lease(std::uint64_t job, std::uint32_t attempt) {
  v1::LeaseRef lease;
  lease.set_job_id(job);
  lease.set_attempt(attempt);
  return lease;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seed_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  bool ok = true;
  auto put = [&](const std::string& name, const v1::Envelope& envelope) {
    ok = Write(dir, name, envelope.SerializeAsString()) && ok;
  };

  v1::Envelope reg;
  reg.set_sequence(1);
  reg.mutable_register_()->set_agent_id("fuzz");
  reg.mutable_register_()->set_protocol_version(1);
  reg.mutable_register_()->set_agent_version("seed");
  reg.mutable_register_()->set_hostname("seed-host");
  reg.mutable_register_()->mutable_capabilities()->set_device_kind(v1::DEVICE_KIND_CPU);
  reg.mutable_register_()->mutable_capabilities()->set_slots(2);
  reg.mutable_register_()->mutable_capabilities()->add_job_kinds(v1::JOB_KIND_SYNTHETIC);
  put("register_valid", reg);
  reg.mutable_register_()->set_protocol_version(99);
  put("register_wrong_protocol", reg);
  reg.mutable_register_()->set_protocol_version(1);
  reg.mutable_register_()->mutable_capabilities()->set_slots(0);
  put("register_zero_slots", reg);

  v1::Envelope beat;
  beat.mutable_heartbeat()->set_sent_unix_ms(1'704'067'200'000);
  *beat.mutable_heartbeat()->add_active_leases() = Lease(1, 1);
  *beat.mutable_heartbeat()->add_active_leases() = Lease(99, 7);
  put("heartbeat_leases", beat);

  v1::Envelope progress;
  *progress.mutable_progress()->mutable_lease() = Lease(1, 1);
  progress.mutable_progress()->set_stage("burn");
  progress.mutable_progress()->set_step(3);
  progress.mutable_progress()->set_total_steps(10);
  put("progress_job1", progress);

  // A result with one uploaded artifact: chunk first, then the result naming it.
  const std::string data = "synthetic output bytes";
  const std::string sha = farm::Sha256Hex(data);
  v1::Envelope chunk;
  *chunk.mutable_artifact_chunk()->mutable_lease() = Lease(2, 1);
  chunk.mutable_artifact_chunk()->set_sha256(sha);
  chunk.mutable_artifact_chunk()->set_offset(0);
  chunk.mutable_artifact_chunk()->set_data(data);
  chunk.mutable_artifact_chunk()->set_last(true);
  put("chunk_job2", chunk);
  chunk.mutable_artifact_chunk()->set_offset(~0ull - 3);
  put("chunk_offset_overflow", chunk);

  v1::Envelope result;
  *result.mutable_job_result()->mutable_lease() = Lease(2, 1);
  result.mutable_job_result()->set_status(v1::RESULT_STATUS_SUCCEEDED);
  v1::ArtifactDescriptor* artifact = result.mutable_job_result()->add_artifacts();
  artifact->set_name("output");
  artifact->set_sha256(sha);
  artifact->set_size_bytes(data.size());
  artifact->set_media_type("application/octet-stream");
  (*result.mutable_job_result()->mutable_metrics())["cpu_ms"] = 1;
  put("result_succeeded_job2", result);
  result.mutable_job_result()->clear_artifacts();
  *result.mutable_job_result()->mutable_lease() = Lease(1, 1);
  put("result_succeeded_job1", result);
  *result.mutable_job_result()->mutable_lease() = Lease(3, 1);
  result.mutable_job_result()->set_status(v1::RESULT_STATUS_FAILED);
  result.mutable_job_result()->set_error("seed failure");
  put("result_failed_job3", result);
  *result.mutable_job_result()->mutable_lease() = Lease(4, 0);
  result.mutable_job_result()->set_status(v1::RESULT_STATUS_RELEASED);
  put("result_attempt_zero", result);

  v1::Envelope error;
  error.mutable_error()->set_code(v1::ERROR_CODE_MALFORMED);
  error.mutable_error()->set_message("seed");
  put("error", error);

  v1::Envelope offer;  // farmd -> agent only: farmd must refuse it from an agent
  *offer.mutable_job_offer()->mutable_lease() = Lease(1, 1);
  put("job_offer_wrong_direction", offer);

  put("empty_envelope", v1::Envelope());
  ok = Write(dir, "truncated", std::string("\x6a\x10\x0a", 3)) && ok;
  ok = Write(dir, "garbage", std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11)) && ok;
  if (!ok) std::fprintf(stderr, "cannot write into %s\n", dir.c_str());
  return ok ? 0 : 1;
}
