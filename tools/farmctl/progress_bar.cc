#include "progress_bar.h"

#include <algorithm>
#include <cstdio>

namespace farmctl {
namespace {

std::string Duration(double seconds) {
  const long long s = static_cast<long long>(seconds + 0.5);
  char buffer[32];
  if (s >= 3600) {
    std::snprintf(buffer, sizeof(buffer), "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  } else if (s >= 60) {
    std::snprintf(buffer, sizeof(buffer), "%lldm%02llds", s / 60, s % 60);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%llds", s);
  }
  return buffer;
}

}  // namespace

std::string CountsLine(const JobCounts& c) {
  std::string line = std::to_string(c.finished()) + "/" + std::to_string(c.total) + " done, " +
                     std::to_string(c.succeeded) + " ok, " + std::to_string(c.failed) +
                     " failed, " + std::to_string(c.running) + " running, " +
                     std::to_string(c.queued) + " queued";
  if (c.unrunnable > 0) {
    constexpr std::size_t kMaxReason = 160;  // the whole reason is printed when run stops
    std::string reason = c.unrunnable_reason;
    if (reason.size() > kMaxReason) reason = reason.substr(0, kMaxReason - 3) + "...";
    line += " (" + std::to_string(c.unrunnable) + " cannot run" +
            (reason.empty() ? std::string() : ": " + reason) + ")";
  }
  if (c.cancelled > 0) line += ", " + std::to_string(c.cancelled) + " cancelled";
  if (c.skipped > 0) line += ", " + std::to_string(c.skipped) + " skipped";
  if (!c.training.empty()) line += " | " + c.training;
  return line;
}

PaceMeter::PaceMeter() : start_(std::chrono::steady_clock::now()) {}

Pace PaceMeter::Observe(const JobCounts& counts) {
  if (first_finished_ < 0) first_finished_ = counts.finished();
  Pace pace;
  pace.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::int64_t done_here = counts.finished() - first_finished_;
  pace.jobs_per_s = pace.elapsed_s > 0.5 ? done_here / pace.elapsed_s : 0.0;
  const std::int64_t left = std::max<std::int64_t>(counts.total - counts.finished(), 0);
  if (left == 0) {
    pace.eta_s = 0;
  } else if (pace.jobs_per_s > 0) {
    pace.eta_s = left / pace.jobs_per_s;
  }
  return pace;
}

ProgressBar::ProgressBar(std::ostream& out, bool live, std::chrono::milliseconds plain_interval)
    : out_(out), live_(live), plain_interval_(plain_interval) {}

std::string ProgressBar::Render(const JobCounts& counts) {
  const Pace pace = pace_.Observe(counts);
  char tail[96];
  if (pace.jobs_per_s > 0) {
    std::snprintf(tail, sizeof(tail), " | %.1f jobs/s, ETA %s", pace.jobs_per_s,
                  Duration(pace.eta_s).c_str());
  } else {
    std::snprintf(tail, sizeof(tail), " | %s elapsed", Duration(pace.elapsed_s).c_str());
  }
  std::string bar;
  if (live_) {
    constexpr int kWidth = 24;
    const int filled =
        counts.total > 0 ? static_cast<int>(kWidth * counts.finished() / counts.total) : kWidth;
    bar = "[" + std::string(std::min(filled, kWidth), '#') +
          std::string(kWidth - std::min(filled, kWidth), '.') + "] ";
  }
  return bar + CountsLine(counts) + tail;
}

void ProgressBar::Update(const JobCounts& counts) {
  const auto now = std::chrono::steady_clock::now();
  if (live_) {
    const std::string line = Render(counts);
    // Pad over a longer previous line instead of relying on terminal escape codes.
    out_ << "\r" << line
         << std::string(last_width_ > line.size() ? last_width_ - line.size() : 0, ' ')
         << std::flush;
    last_width_ = line.size();
  } else if (now - last_plain_ >= plain_interval_) {
    out_ << "farmctl: " << Render(counts) << "\n" << std::flush;
    last_plain_ = now;
  }
}

void ProgressBar::Finish(const JobCounts& counts) {
  if (live_) {
    Update(counts);
    out_ << "\n" << std::flush;
  } else {
    last_plain_ = {};
    Update(counts);
  }
}

}  // namespace farmctl
