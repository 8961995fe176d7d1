// farm-agent's render job kind and its one-shot twin:
//   worker mode: --models-dir (default $STUDIOFARM_MODELS or ~/.cache/studiofarm/models),
//     --model-cache-mb, --device, --config-dir, --keep-stage-images; registers the
//     RenderRunner (JOB_KIND_RENDER), which reports the models it keeps loaded at
//     registration and with every result (farmd prefers agents holding a job's models).
//   farm-agent render-params PARAMS.json -o out.png [--json]: renders one canonical
//     RenderParams record exactly as a render job would (farmctl reproduce runs this) and
//     reports the PNG's pixel hash (SHA-256 over "WxHxC\n" + the decoded pixels, so PNG
//     encoder differences do not matter).
//   farm-agent pixel-hash FILE [--json]: the same pixel hash of an existing PNG (the
//     stored render that farmctl reproduce compares against); one function with
//     render-params.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>

#include "farm/agent/artifact_fetcher.h"
#include "farm/agent/job_runner.h"
#include "farm/agent/model_index.h"

namespace farm::agent {

void AddRenderCommands(CLI::App& app);
// -1 when neither render-params nor pixel-hash was given, else its exit code.
int RunRenderCommand(const CLI::App& app);
// Worker mode: builds the model index and registers the render runner. A missing models
// directory is not an error (the agent then serves other kinds): returns false with a
// warning printed.
// `fetcher` (may be null) lets render jobs use LoRAs trained on the farm ("train:" refs).
Status RegisterRenderRunner(RunnerRegistry& registry,
                            std::shared_ptr<ArtifactFetcher> fetcher = nullptr);

// What --models-dir and --face-models-dir name, for the other job kinds (prepare, train):
// the model index (built once and shared with the render runner) and the face-api folder
// (empty when it holds no face-api models).
struct WorkerModels {
  std::shared_ptr<const ModelIndex> index;
  std::string face_models_dir;
  std::string pose_models_dir;  // <models>/human-models when it holds the body and hand models
};
StatusOr<WorkerModels> LoadWorkerModels();

}  // namespace farm::agent
