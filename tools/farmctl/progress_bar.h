// Progress of a sweep on stderr: a live one-line bar redrawn in place on a terminal,
// plain lines every few seconds otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace farmctl {

struct JobCounts {
  std::int64_t total = 0;
  std::int64_t queued = 0;
  std::int64_t running = 0;  // leased
  std::int64_t succeeded = 0;
  std::int64_t failed = 0;
  std::int64_t cancelled = 0;
  std::int64_t skipped = 0;
  // Of the queued jobs, those no online agent may take (farmd's "unrunnable"), and the
  // reason shared by most of them.
  std::int64_t unrunnable = 0;
  std::string unrunnable_reason;
  // Running train jobs' latest progress: "train job 12: step 340/1600, loss .. lr .. s/step
  // ETA .."; empty when none trains.
  std::string training;

  // A sweep with search: adds rungs as it goes, so between two rungs every job may have
  // finished while the sweep has not: pending until farmd says the search is done.
  bool search_pending = false;
  std::string search;  // farmd's summary: "rung 2/3, cells 12 -> 6, ... fewer than the full grid"

  std::int64_t finished() const { return succeeded + failed + cancelled + skipped; }
  bool AllTerminal() const {
    return !search_pending && queued == 0 && running == 0 && finished() >= total;
  }
};

// "42/100 done, 40 ok, 2 failed, 3 running, 55 queued", and when some queued jobs cannot
// run "(16 cannot run: <reason>)" after the queued count (the reason cut at 160 chars).
std::string CountsLine(const JobCounts& counts);

// How fast a sweep finishes jobs, as seen from the first observation on.
struct Pace {
  double elapsed_s = 0;
  double jobs_per_s = 0;  // 0 until half a second has passed
  double eta_s = -1;      // -1 while the rate is unknown
};

class PaceMeter {
 public:
  PaceMeter();
  Pace Observe(const JobCounts& counts);

 private:
  std::chrono::steady_clock::time_point start_;
  std::int64_t first_finished_ = -1;  // finished when first seen: resumes do not inflate rate
};

class ProgressBar {
 public:
  // `live`: redraw one line in place (a terminal); otherwise print a line at most every
  // `plain_interval`.
  ProgressBar(std::ostream& out, bool live,
              std::chrono::milliseconds plain_interval = std::chrono::seconds(5));

  void Update(const JobCounts& counts);
  // Ends the live line (or prints the last plain line) so later output starts clean.
  void Finish(const JobCounts& counts);

 private:
  std::string Render(const JobCounts& counts);

  std::ostream& out_;
  bool live_;
  std::chrono::milliseconds plain_interval_;
  PaceMeter pace_;
  std::chrono::steady_clock::time_point last_plain_{};
  std::size_t last_width_ = 0;
};

}  // namespace farmctl
