// What the transport tests share: the agent-end interface tests drive, bounded waits and
// message builders. Every wait here has a deadline, so no test can hang on a lost message.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "farm.pb.h"
#include "farm/transport/agent_link.h"

namespace farm::transport::testing {

using std::chrono::milliseconds;
using studiofarm::v1::Envelope;

inline constexpr milliseconds kWait{5000};  // for things that must happen
inline constexpr milliseconds kQuiet{300};  // for things that must not happen
inline constexpr std::size_t kTestMaxFrame = 1u << 20;

// The agent's end of one connection, as a test drives it.
class TestAgent {
 public:
  virtual ~TestAgent() = default;
  virtual Status Send(const Envelope& envelope) = 0;
  virtual Status SendRaw(const std::string& frame) = 0;
  virtual std::optional<Envelope> Receive(milliseconds timeout) = 0;
  virtual void Close() = 0;
};

inline Envelope Numbered(std::uint64_t sequence, std::size_t payload_bytes = 0) {
  Envelope envelope;
  envelope.set_sequence(sequence);
  if (payload_bytes > 0) {
    envelope.mutable_artifact_chunk()->set_data(std::string(payload_bytes, 'x'));
  } else {
    envelope.mutable_heartbeat();
  }
  return envelope;
}

// Receives until `count` messages arrived or kWait passed.
inline std::vector<Inbound> ReceiveAtLeast(AgentLink& link, std::size_t count) {
  std::vector<Inbound> all;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (all.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = link.Receive(milliseconds(100), 1000);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok()) break;
    for (Inbound& in : *batch) all.push_back(std::move(in));
  }
  return all;
}

// Polls `condition` until it holds or kWait passes (for effects a network applies later).
inline bool Eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return condition();
}

}  // namespace farm::transport::testing
