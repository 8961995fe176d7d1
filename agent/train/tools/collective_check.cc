// farm-collective-check: runs every collective on every rank and checks the results.
//
//   tools/mpirun.sh 2 farm-collective-check --expect-world-size 2 --expect-backend mpi
//   farm-collective-check --expect-world-size 1 --expect-backend single   (alone: auto)
//   farm-collective-check --backend mpi --expect-world-size 1              (MPI world of one)
//
// Every rank computes what every other rank holds (the data is a function of rank and
// index), so each rank checks the results on its own. Checks never stop early: a rank that
// skipped a collective its peers issue would leave them waiting. Exit 0 when every check
// passed on this rank, 1 otherwise (mpirun then fails too), 2 on bad flags.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "farm/agent/collective.h"

namespace {

using farm::Status;
using farm::StatusCode;
using farm::agent::Collective;
using farm::agent::CollectiveCounters;

class Checker {
 public:
  explicit Checker(int rank) : rank_(rank) {}

  void Expect(bool ok, const std::string& what) {
    ++checks_;
    if (!ok) {
      ++failures_;
      std::fprintf(stderr, "rank %d: FAILED: %s\n", rank_, what.c_str());
    }
  }
  void ExpectOk(const Status& status, const std::string& what) {
    Expect(status.ok(), what + ": " + status.ToString());
  }
  // A call that must fail its argument checks with InvalidArgument naming `needle`.
  void ExpectRejected(const Status& status, const std::string& needle, const std::string& what) {
    Expect(status.code() == StatusCode::kInvalidArgument &&
               status.message().find(needle) != std::string::npos,
           what + ": expected invalid_argument mentioning \"" + needle + "\", got " +
               status.ToString());
  }

  int checks() const { return checks_; }
  int failures() const { return failures_; }

 private:
  int rank_;
  int checks_ = 0;
  int failures_ = 0;
};

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Integer-valued floats: every sum and the mean over up to 8 ranks are exact in float32.
float IntegerValue(int rank, int64_t i) {
  return static_cast<float>(static_cast<int64_t>(SplitMix64(rank * 1000003ull + i) % 2001) - 1000);
}

// Arbitrary floats in [-4, 4) with full mantissas: sums round.
float FractionValue(int rank, int64_t i) {
  const uint64_t bits = SplitMix64((static_cast<uint64_t>(rank) << 40) ^ (i * 7919ull));
  return static_cast<float>(static_cast<double>(bits >> 11) * 0x1.0p-53 * 8.0 - 4.0);
}

at::Tensor Filled(int rank, int64_t n, float (*value)(int, int64_t)) {
  at::Tensor t = at::empty({n}, at::kFloat);
  float* data = t.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) data[i] = value(rank, i);
  return t;
}

uint64_t Fnv1a(const at::Tensor& t) {
  const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < t.nbytes(); ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  return h;
}

// Distance in units in the last place between two finite floats of the same sign region.
int64_t UlpDistance(float a, float b) {
  auto ordered = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, sizeof(i));
    return i < 0 ? static_cast<int64_t>(INT32_MIN) - i : static_cast<int64_t>(i);
  };
  return std::llabs(ordered(a) - ordered(b));
}

// The all-reduced buffer must equal the mean of every rank's data (exactly, or within
// `max_ulp`), and be bit-identical on every rank.
void CheckAllReduce(Collective& c, Checker& check, const char* name, int64_t n,
                    float (*value)(int, int64_t), int64_t max_ulp) {
  at::Tensor t = Filled(c.rank(), n, value);
  const CollectiveCounters before = c.counters();
  check.ExpectOk(c.AllReduceMean(t), std::string(name) + " all-reduce");
  check.Expect(c.counters().all_reduces == before.all_reduces + 1 &&
                   c.counters().bytes_all_reduced ==
                       before.bytes_all_reduced + static_cast<uint64_t>(n) * 4,
               std::string(name) + ": one all-reduce of " + std::to_string(n * 4) +
                   " bytes counted");
  check.Expect(c.counters().total() == before.total() + 1,
               std::string(name) + ": no other collective counted");
  // Two ranks: fl(a + b) / 2 is the correctly rounded mean, so `max_ulp` holds as it is.
  // More ranks round each partial sum: allow also the summation bound (n-1)·u·Σ|x|/n
  // (u = 2^-24), which is what any reduction order can reach.
  const float* got = t.data_ptr<float>();
  const int n_ranks = c.world_size();
  int64_t bad = 0;
  int64_t first_bad = -1;
  int64_t first_bad_ulp = 0;
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0;
    double sum_abs = 0;
    for (int r = 0; r < n_ranks; ++r) {
      sum += value(r, i);
      sum_abs += std::fabs(value(r, i));
    }
    const float expected = static_cast<float>(sum / n_ranks);
    const int64_t ulp = UlpDistance(got[i], expected);
    if (ulp <= max_ulp) continue;
    const double bound = n_ranks > 2 && max_ulp > 0
                             ? (n_ranks - 1) * 0x1.0p-24 * sum_abs / n_ranks +
                                   std::fabs(std::nextafter(expected, INFINITY) - expected)
                             : 0.0;
    if (std::fabs(static_cast<double>(got[i]) - sum / n_ranks) <= bound) continue;
    if (bad++ == 0) {
      first_bad = i;
      first_bad_ulp = ulp;
    }
  }
  check.Expect(bad == 0, std::string(name) + ": " + std::to_string(bad) +
                             " elements off the mean, the first at " + std::to_string(first_bad) +
                             " by " + std::to_string(first_bad_ulp) + " ulp (at most " +
                             std::to_string(max_ulp) + " allowed)");
  auto sums = c.AllGatherU64(Fnv1a(t));
  check.ExpectOk(sums.status(), std::string(name) + ": all-gather of the result's checksum");
  if (sums.ok()) {
    bool same = true;
    for (uint64_t s : *sums) same = same && s == (*sums)[0];
    check.Expect(same, std::string(name) + ": every rank holds the same bytes");
  }
}

void CheckBroadcast(Collective& c, Checker& check, int root) {
  // int64 data: broadcast moves bytes, whatever the dtype.
  const int64_t n = 4099;
  at::Tensor t = at::arange(n, at::kLong).mul_(31).add_(c.rank() == root ? 7 : -1000 - c.rank());
  const CollectiveCounters before = c.counters();
  check.ExpectOk(c.Broadcast(t, root), "broadcast from root " + std::to_string(root));
  check.Expect(c.counters().broadcasts == before.broadcasts + 1 &&
                   c.counters().bytes_broadcast == before.bytes_broadcast + n * 8,
               "broadcast counted with its bytes");
  check.Expect(at::equal(t, at::arange(n, at::kLong).mul_(31).add_(7)),
               "broadcast from root " + std::to_string(root) + ": every rank holds the root's data");
}

void CheckAllGather(Collective& c, Checker& check) {
  const CollectiveCounters before = c.counters();
  const uint64_t mine = 0xF00D0000ull + 7 * static_cast<uint64_t>(c.rank());
  auto values = c.AllGatherU64(mine);
  check.ExpectOk(values.status(), "all-gather");
  check.Expect(c.counters().all_gathers == before.all_gathers + 1, "all-gather counted");
  if (!values.ok()) return;
  bool right = values->size() == static_cast<size_t>(c.world_size());
  for (size_t r = 0; right && r < values->size(); ++r) {
    right = (*values)[r] == 0xF00D0000ull + 7 * r;
  }
  check.Expect(right, "all-gather returns every rank's value in rank order");
}

// Bad arguments are refused before anything is sent, identically on every rank, so the
// ranks stay in step; nothing is counted.
void CheckRejections(Collective& c, Checker& check) {
  const CollectiveCounters before = c.counters();
  at::Tensor matrix = at::zeros({8, 6}, at::kFloat);
  check.ExpectRejected(c.AllReduceMean(matrix.t()), "contiguous", "all-reduce of a transposed view");
  check.ExpectRejected(c.AllReduceMean(at::zeros({16}, at::kFloat).slice(0, 0, 16, 2)),
                       "contiguous", "all-reduce of a strided slice");
  check.ExpectRejected(c.AllReduceMean(at::zeros({16}, at::kDouble)), "float32",
                       "all-reduce of a float64 tensor");
  check.ExpectRejected(c.AllReduceMean(at::zeros({16}, at::kHalf)), "float32",
                       "all-reduce of a float16 tensor");
  check.ExpectRejected(c.AllReduceMean(at::Tensor()), "undefined", "all-reduce of no tensor");
  check.ExpectRejected(c.Broadcast(matrix.t(), 0), "contiguous", "broadcast of a view");
  check.ExpectRejected(c.Broadcast(matrix, c.world_size()), "root", "broadcast from a root past the world");
  check.ExpectRejected(c.Broadcast(matrix, -1), "root", "broadcast from root -1");
  check.Expect(c.counters().total() == before.total() &&
                   c.counters().bytes_all_reduced == before.bytes_all_reduced,
               "refused calls are not counted");
}

void RunChecks(Collective& c, Checker& check) {
  CheckAllGather(c, check);
  // Odd sizes, so no chunking or vector width hides a tail element.
  CheckAllReduce(c, check, "integer-valued", 100003, IntegerValue, 0);
  CheckAllReduce(c, check, "fractional", 100003, FractionValue, 1);
  CheckAllReduce(c, check, "one element", 1, FractionValue, 1);
  for (int root : {0, c.world_size() - 1}) CheckBroadcast(c, check, root);
  CheckRejections(c, check);

  const CollectiveCounters before_barrier = c.counters();
  check.ExpectOk(c.Barrier(), "barrier");
  check.Expect(c.counters().barriers == before_barrier.barriers + 1, "barrier counted");

  // Totals over the whole run: 3 all-reduces, 4 all-gathers (one on its own, one per
  // all-reduce for its checksum), 2 broadcasts, 1 barrier.
  const CollectiveCounters& end = c.counters();
  check.Expect(end.all_reduces == 3 && end.all_gathers == 4 && end.broadcasts == 2 &&
                   end.barriers == 1 && end.bytes_all_reduced == (2 * 100003 + 1) * 4ull,
               "run totals: " + std::to_string(end.all_reduces) + " all-reduces, " +
                   std::to_string(end.all_gathers) + " all-gathers, " +
                   std::to_string(end.broadcasts) + " broadcasts, " +
                   std::to_string(end.barriers) + " barriers, " +
                   std::to_string(end.bytes_all_reduced) + " bytes all-reduced");
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--backend auto|mpi|nccl|single] [--expect-world-size N] "
               "[--expect-backend NAME]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string backend = "auto";
  std::string expect_backend;
  int expect_world = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(argv[0]);
    const std::string value = argv[++i];
    if (flag == "--backend") {
      backend = value;
    } else if (flag == "--expect-backend") {
      expect_backend = value;
    } else if (flag == "--expect-world-size") {
      expect_world = std::atoi(value.c_str());
    } else {
      return Usage(argv[0]);
    }
  }
  at::set_num_threads(1);

  const auto launch = farm::agent::LaunchEnvironment::FromProcess();
  auto made = farm::agent::MakeCollective(backend, launch);
  if (!made.ok()) {
    std::fprintf(stderr, "farm-collective-check: %s\n", made.status().ToString().c_str());
    return 1;
  }
  Collective& c = **made;
  const int rank = c.rank();
  const int world_size = c.world_size();
  const std::string made_backend(c.backend());
  Checker check(rank);
  if (!expect_backend.empty()) {
    check.Expect(made_backend == expect_backend,
                 "backend is " + made_backend + ", expected " + expect_backend);
  }
  if (expect_world > 0) {
    check.Expect(world_size == expect_world, "world size is " + std::to_string(world_size) +
                                                 ", expected " + std::to_string(expect_world));
  }
  check.Expect(rank >= 0 && rank < world_size, "rank lies inside the world");
  if (c.cuda_device().has_value()) {
    std::fprintf(stderr, "farm-collective-check: backend %s wants CUDA tensors; this check "
                 "uses CPU tensors\n", made_backend.c_str());
    return 1;
  }
  RunChecks(c, check);

  // The last MPI-backed Collective finalises MPI, and MPI cannot start twice: a new one
  // must say so instead of crashing.
  made.value().reset();
  if (made_backend == "mpi") {
    auto again = farm::agent::MakeCollective("mpi", launch);
    check.Expect(!again.ok() && again.status().code() == StatusCode::kFailedPrecondition &&
                     again.status().message().find("finalised") != std::string::npos,
                 "a second MPI start after finalisation is refused: " +
                     (again.ok() ? std::string("it was not") : again.status().ToString()));
  }

  std::printf("rank %d of %d (%s): %d checks, %d failed\n", rank, world_size,
              made_backend.c_str(), check.checks(), check.failures());
  return check.failures() == 0 ? 0 : 1;
}
