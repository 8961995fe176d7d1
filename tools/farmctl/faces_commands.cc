#include "faces_commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "agent_call.h"
#include "program_path.h"

namespace farmctl {
namespace {

struct FacesArgs {
  std::vector<std::string> images;  // detect: 1, embed: 1..n, compare: 2
  std::string draw;
  double min_confidence = 0.5;
  std::string agent_path;
};

// farm-agent's arguments for `faces <verb>`.
std::vector<std::string> AgentArgs(const GlobalOptions& options, const std::string& verb,
                                   const FacesArgs& args) {
  std::vector<std::string> out = {"faces", verb};
  if (options.json) out.push_back("--json");
  if (!options.models_dir.empty()) {
    out.push_back("--models-dir");
    out.push_back(options.models_dir);
  }
  if (verb != "compare") {
    std::ostringstream confidence;
    confidence.precision(17);
    confidence << args.min_confidence;
    out.push_back("--min-confidence");
    out.push_back(confidence.str());
  }
  if (!args.draw.empty()) {
    out.push_back("--draw");
    out.push_back(args.draw);
  }
  out.push_back("--");
  out.insert(out.end(), args.images.begin(), args.images.end());
  return out;
}

// Streams the agent's stdout through, then its stderr; returns its exit code.
int PassThrough(const GlobalOptions& options, const std::string& verb, const FacesArgs& args) {
  auto run = RunAgent(FindAgentProgram(args.agent_path), AgentArgs(options, verb, args),
                      [](const std::string& line) { std::cout << line << std::endl; });
  if (!run.ok()) return ReportError(options, run.status());
  if (!run->err.empty()) std::cerr << run->err << std::flush;
  if (run->exit_code < 0 || run->exit_code > 2) {
    // Killed, or an exit code the agent does not document: report it as a failure.
    std::cerr << "farmctl: farm-agent faces " << verb << " ended with exit code "
              << run->exit_code << "\n";
    return kExitFailure;
  }
  return run->exit_code;
}

}  // namespace

void AddFacesCommands(CLI::App& app, GlobalOptions& options, int& exit_code) {
  CLI::App* faces = app.add_subcommand(
      "faces", "Face ID on image files: detect, embed (128-d descriptors), compare (runs farm-agent)");
  faces->require_subcommand(1);
  faces->footer(
      "Runs farm-agent faces ... and passes its output and exit code through. Face models: "
      "--models-dir (default $STUDIOFARM_MODELS or ~/.cache/studiofarm/models)/face-api/model. "
      "JSON fields: docs/faceid.md.");
  auto add_agent = [](CLI::App* command, FacesArgs& args) {
    command->add_option("--agent", args.agent_path, "farm-agent executable (default: the build's)");
    command->footer(
        "--json (global): one JSON object on stdout (fields: docs/faceid.md). --models-dir "
        "(global): the models root holding face-api/model. Exit codes: 0 ok, 1 failure, 2 usage.");
  };

  auto detect_args = std::make_shared<FacesArgs>();
  CLI::App* detect = faces->add_subcommand("detect", "Find faces: boxes, scores and 68 landmarks");
  detect->add_option("image", detect_args->images, "Photo (JPEG, PNG, ...)")->required()->expected(1);
  detect->add_option("--draw", detect_args->draw,
                     "Also write the image with boxes, scores and landmarks drawn (PNG)");
  detect->add_option("--min-confidence", detect_args->min_confidence,
                     "Detector score threshold (exclusive)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  add_agent(detect, *detect_args);
  detect->callback([&options, &exit_code, detect_args] {
    exit_code = PassThrough(options, "detect", *detect_args);
  });

  auto embed_args = std::make_shared<FacesArgs>();
  CLI::App* embed = faces->add_subcommand(
      "embed", "Detect every face of each photo and compute its 128-d descriptor (use --json)");
  embed->add_option("images", embed_args->images, "Photos (JPEG, PNG, ...)")->required();
  embed->add_option("--min-confidence", embed_args->min_confidence,
                    "Detector score threshold (exclusive)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  add_agent(embed, *embed_args);
  embed->callback([&options, &exit_code, embed_args] {
    exit_code = PassThrough(options, "embed", *embed_args);
  });

  auto compare_args = std::make_shared<FacesArgs>();
  CLI::App* compare = faces->add_subcommand(
      "compare",
      "Compare the faces of two photos (the single faces, else the closest pair): Euclidean "
      "distance, cosine similarity, same person (distance < 0.6)");
  compare->add_option("images", compare_args->images, "Photos A and B")->required()->expected(2);
  add_agent(compare, *compare_args);
  compare->callback([&options, &exit_code, compare_args] {
    exit_code = PassThrough(options, "compare", *compare_args);
  });
}

}  // namespace farmctl
