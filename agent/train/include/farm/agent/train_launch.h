// How an agent starts the K ranks of a train job's gang (docs/training.md, "Launching"):
//   K = 1          farm-train itself;
//   under Slurm    srun -n K farm-train ...   (SLURM_JOB_ID set: the allocation's hosts);
//   otherwise      mpirun -np K [--hostfile F] --bind-to none [--oversubscribe]
//                  [--allow-run-as-root] farm-train ...
// A gang spanning agents gets a hostfile built from the lease (one line per host with its
// slot count); mpirun then reaches the other hosts the usual way (ssh), so multi-host
// training needs what any MPI job needs: the same paths on every host and ssh between them
// (or Slurm). Oversubscription is explicit: only when K exceeds this machine's cores.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace farm::agent {

struct LaunchRequest {
  int ranks = 1;
  std::vector<std::string> train_args;  // farm-train's path and its arguments
  std::string mpirun = "mpirun";
  std::string hostfile;                 // empty: all ranks on this host
  bool slurm = false;                   // SLURM_JOB_ID was set
  bool root = false;                    // running as root (mpirun refuses without a flag)
  int cores = 1;                        // this machine's cores (oversubscription)
};

std::vector<std::string> LaunchCommand(const LaunchRequest& request);

// `name` itself when it contains a '/', else the first executable `name` on $PATH; empty
// when there is none.
std::string FindExecutable(const std::string& name);

// "host slots=N" lines for mpirun from the gang's hosts in rank order (hosts repeated
// per rank collapse into one line with their count, first-seen order kept).
std::string Hostfile(const std::vector<std::string>& rank_hosts);

}  // namespace farm::agent
