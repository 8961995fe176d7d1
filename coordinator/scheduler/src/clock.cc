#include "farm/scheduler/clock.h"

#include <chrono>

namespace farm::scheduler {

TimeMs SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void FakeClock::Advance(TimeMs delta_ms) {
  if (delta_ms > 0) now_ms_ += delta_ms;
}

}  // namespace farm::scheduler
