#include "farm/agent/prepare_latents.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "farm/image/png_io.h"
#include "farm/schemas/sha256.h"
#include "farm/sd/safetensors.h"
#include "vae_loader.h"

namespace farm::agent {
namespace {
namespace fs = std::filesystem;

// "latent/000" for images/000.png.
std::string LatentName(const std::string& prefix, const PreparedImage& image) {
  return prefix + "/" + fs::path(image.file).stem().string();
}

std::map<std::string, std::string> Metadata(const DatasetManifest& manifest, const std::string& checkpoint_sha256,
                                            bool flip) {
  char scaling[32];
  std::snprintf(scaling, sizeof(scaling), "%.5f", sd::kVaeScalingFactor);
  return {{"dataset_id", manifest.dataset_id},
          {"checkpoint_sha256", checkpoint_sha256},
          {"latent", kLatentKind},
          {"scaling_factor", scaling},
          {"flip", flip ? "true" : "false"},
          {"resolution", std::to_string(manifest.settings.resolution)}};
}

// The existing cache when it is for this dataset and checkpoint and holds every latent
// asked for; nullopt (recompute) otherwise.
std::optional<LatentCacheResult> ReusableCache(const std::string& path, const DatasetManifest& manifest,
                                               const std::string& checkpoint_sha256, bool flip) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  StatusOr<std::shared_ptr<sd::SafetensorsFile>> file = sd::SafetensorsFile::Open(path);
  if (!file.ok()) return std::nullopt;
  const auto& meta = (*file)->metadata();
  auto value = [&](const char* key) {
    auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };
  if (value("dataset_id") != manifest.dataset_id || value("checkpoint_sha256") != checkpoint_sha256 ||
      value("latent") != kLatentKind) {
    return std::nullopt;
  }
  LatentCacheResult result;
  for (const PreparedImage& image : manifest.images) {
    for (const char* prefix : {"latent", "latent_flip"}) {
      if (std::string(prefix) == "latent_flip" && !flip) continue;
      const sd::TensorInfo* info = (*file)->Find(LatentName(prefix, image));
      if (info == nullptr) return std::nullopt;
      result.shape = info->shape;
    }
  }
  result.path = path;
  result.checkpoint_sha256 = checkpoint_sha256;
  result.reused = true;
  result.count = static_cast<int64_t>((*file)->tensors().size());
  return result;
}

// images/NNN.png as [1, 3, H, W] float32 in [-1, 1].
StatusOr<at::Tensor> ImageTensor(const std::string& path, int resolution) {
  FARM_ASSIGN_OR_RETURN(image::Image png, image::ReadPngFile(path));
  if (png.channels != 3 || png.width != resolution || png.height != resolution) {
    return DataLoss(path + ": " + image::DescribeSize(png) + ", expected " + std::to_string(resolution) + "x" +
                    std::to_string(resolution) + "x3 (the dataset's resolution)");
  }
  at::Tensor bytes = at::from_blob(png.pixels.data(), {png.height, png.width, 3}, at::kByte);
  return (bytes.permute({2, 0, 1}).to(at::kFloat) / 127.5 - 1.0).unsqueeze(0).contiguous();
}

}  // namespace

std::string LatentFileName(const std::string& checkpoint_sha256) {
  return "latents-" + checkpoint_sha256.substr(0, 16) + ".safetensors";
}

StatusOr<LatentCacheResult> CacheLatents(const LatentCacheRequest& request, const DatasetManifest& manifest) {
  if (manifest.images.empty()) return FailedPrecondition(request.dataset_folder + ": the dataset has no images");
  StatusOr<std::string> digest = Sha256File(request.checkpoint);
  if (!digest.ok()) return digest.status().WithContext("checkpoint for the latent cache");
  const std::string path = (fs::path(request.dataset_folder) / LatentFileName(*digest)).string();
  if (auto reused = ReusableCache(path, manifest, *digest, request.flip)) return *reused;

  FARM_ASSIGN_OR_RETURN(sd::Vae vae, internal::LoadCheckpointVae(request.checkpoint));
  if (request.threads > 0) at::set_num_threads(request.threads);
  sd::TensorMap latents;
  try {
    at::NoGradGuard no_grad;
    for (const PreparedImage& image : manifest.images) {
      const std::string image_path = (fs::path(request.dataset_folder) / image.file).string();
      FARM_ASSIGN_OR_RETURN(at::Tensor x, ImageTensor(image_path, manifest.settings.resolution));
      // One image per Encode call: a latent must not depend on what else is in the batch.
      for (bool mirrored : {false, true}) {
        if (mirrored && !request.flip) continue;
        StatusOr<sd::VaePosterior> posterior = vae.Encode(mirrored ? x.flip({3}).contiguous() : x);
        if (!posterior.ok()) return posterior.status().WithContext(image_path);
        latents.emplace(LatentName(mirrored ? "latent_flip" : "latent", image),
                        (posterior->mean[0] * sd::kVaeScalingFactor).contiguous());
      }
    }
  } catch (const std::exception& e) {
    return Internal("encoding the latents of " + request.dataset_folder + ": " + e.what());
  }
  FARM_RETURN_IF_ERROR(sd::WriteSafetensors(path, latents, Metadata(manifest, *digest, request.flip)));
  LatentCacheResult result;
  result.path = path;
  result.checkpoint_sha256 = *digest;
  result.count = static_cast<int64_t>(latents.size());
  result.shape = latents.begin()->second.sizes().vec();
  return result;
}

}  // namespace farm::agent
