// `farm-agent render --pipeline NAME ...`: the one-shot render runs the whole recipe
// (agent/pipeline: txt2img -> the preset's stages) and writes a PNG with the A1111
// parameters chunk, plus NAME.png.json with every stage's settings as applied.
//   farm-agent render --checkpoint M --prompt P --pipeline studio
//       --pipelines-yaml farm_configs/pipelines.yaml --pose standing --poses-dir experiments/poses
//       --pose-controlnet CN.safetensors --tone warm --tones-yaml farm_configs/tones.yaml -o out.png
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace farm::agent {

// What the plain render command already parsed.
struct PipelineRenderInput {
  std::string checkpoint, tokenizer_dir, device = "cpu";
  std::string vae;  // a separate VAE file; empty: the checkpoint's
  int threads = 0;
  std::string prompt, negative_prompt, sampler;
  int64_t steps = 20;
  double cfg = 7;
  int64_t clip_skip = 1;
  uint64_t seed = 0;
  int64_t width = 512, height = 512;
  std::vector<std::pair<std::string, double>> loras;  // path, weight
  // Textual-inversion embedding files by name; recorded by SHA-256 ("TI hashes" in the PNG).
  std::map<std::string, std::string> embeddings;
  std::string output;
  bool json_output = false;
};

// Adds --pipeline, --pipelines-yaml, --pose, --poses-dir, --pose-controlnet, --tone,
// --tones-yaml, --face-models, --render-id, --stage-images to `render`.
void AddPipelineFlags(CLI::App* render);
// True when any of --pipeline, --pose or --tone was given.
bool PipelineRequested();
int RunPipelineRender(const PipelineRenderInput& input);

}  // namespace farm::agent
