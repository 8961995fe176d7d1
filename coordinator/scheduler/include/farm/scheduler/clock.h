// The scheduler's only source of time. It never reads a wall clock itself: farmd passes
// a SystemClock, tests a FakeClock, so every timeout is testable in microseconds.
#pragma once

#include "farm/scheduler/types.h"

namespace farm::scheduler {

// Thread-safety: NowMs() is called only from the scheduler's thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (UTC). The scheduler tolerates a clock that steps
  // backwards by treating time as standing still until it catches up again.
  virtual TimeMs NowMs() const = 0;
};

// std::chrono::system_clock, for farmd.
class SystemClock final : public Clock {
 public:
  TimeMs NowMs() const override;
};

// A clock that moves only when told to. Not thread-safe (tests are single-threaded).
class FakeClock final : public Clock {
 public:
  // 2024-01-01T00:00:00Z: a realistic epoch value, so that times look plausible in logs.
  static constexpr TimeMs kDefaultStartMs = 1'704'067'200'000;

  explicit FakeClock(TimeMs start_ms = kDefaultStartMs) : now_ms_(start_ms) {}

  TimeMs NowMs() const override { return now_ms_; }
  // Moves forward by `delta_ms`; a negative delta is ignored (use Set to go backwards).
  void Advance(TimeMs delta_ms);
  void Set(TimeMs now_ms) { now_ms_ = now_ms; }

 private:
  TimeMs now_ms_;
};

}  // namespace farm::scheduler
