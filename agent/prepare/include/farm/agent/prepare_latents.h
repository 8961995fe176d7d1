// The VAE latent cache of a prepared dataset: every training image (and its horizontal
// mirror when flips are on) encoded once per base checkpoint, so training never runs the
// VAE encoder. Stored next to manifest.json as latents-<first 16 hex of the checkpoint's
// SHA-256>.safetensors, tensors "latent/NNN" and "latent_flip/NNN" (NNN as images/NNN.png),
// float32 [4, resolution/8, resolution/8] for SD 1.5.
//
// Each latent is the MEAN of the VAE encoder's diagonal Gaussian posterior times the
// scaling factor 0.18215: deterministic, so one cache serves every seed and rank, and the
// posterior's spread is small next to the diffusion noise added in training. kohya
// sd-scripts' cache_latents stores one sample of the posterior instead (fixed at caching
// time). The flipped latent encodes the mirrored image (latents do not mirror exactly).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "farm/agent/prepare_manifest.h"
#include "farm/schemas/status.h"

namespace farm::agent {

inline constexpr char kLatentKind[] = "posterior_mean";

struct LatentCacheRequest {
  std::string dataset_folder;  // a prepared dataset (LoadPreparedDataset)
  std::string checkpoint;      // single-file SD 1.5 checkpoint (.safetensors); only its VAE is read
  bool flip = false;           // also encode each image mirrored left-right
  int threads = 0;             // torch intra-op threads; 0 keeps libtorch's default
};

struct LatentCacheResult {
  std::string path;               // the latents file
  std::string checkpoint_sha256;  // of the checkpoint file
  bool reused = false;            // a complete cache for this checkpoint (and flip) existed
  int64_t count = 0;              // latents in the file
  std::vector<int64_t> shape;     // of one latent: [channels, height, width]
};

// "latents-<first 16 hex>.safetensors".
std::string LatentFileName(const std::string& checkpoint_sha256);

// Encodes (or finds) the cache for `manifest`'s images. An existing file is reused when
// its metadata names the same dataset and checkpoint and it holds every latent asked for
// (a cache with flips also serves a request without). Written through a temporary file
// and renamed. Errors name the checkpoint or image at fault.
StatusOr<LatentCacheResult> CacheLatents(const LatentCacheRequest& request, const DatasetManifest& manifest);

}  // namespace farm::agent
