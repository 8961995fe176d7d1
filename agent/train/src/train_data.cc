#include "farm/agent/train_data.h"

#include "farm/agent/prepare_dataset.h"
#include "farm/agent/prepare_latents.h"
#include "farm/sd/safetensors.h"

namespace farm::agent {

StatusOr<TrainData> LoadTrainData(const std::string& dataset_folder, const std::string& checkpoint,
                                  const sd::ClipTokenizer& tokenizer, bool flip, int threads) {
  TrainData data;
  FARM_ASSIGN_OR_RETURN(data.manifest, LoadPreparedDataset(dataset_folder));
  if (data.manifest.images.empty()) return FailedPrecondition(dataset_folder + ": the dataset has no images");
  LatentCacheRequest request;
  request.dataset_folder = dataset_folder;
  request.checkpoint = checkpoint;
  request.flip = flip;
  request.threads = threads;
  FARM_ASSIGN_OR_RETURN(LatentCacheResult cache, CacheLatents(request, data.manifest));
  data.latents_file = cache.path;
  FARM_ASSIGN_OR_RETURN(sd::TensorMap latents, sd::ReadSafetensors(cache.path));
  for (const PreparedImage& image : data.manifest.images) {
    // images/NNN.png -> NNN
    const size_t slash = image.file.rfind('/'), dot = image.file.rfind('.');
    const std::string stem = image.file.substr(slash + 1, dot - slash - 1);
    sd::TrainExample example;
    auto latent = latents.find("latent/" + stem);
    if (latent == latents.end()) return DataLoss(cache.path + ": no latent/" + stem + " for " + image.file);
    example.latent = latent->second.to(at::kFloat);
    if (flip) {
      auto mirrored = latents.find("latent_flip/" + stem);
      if (mirrored == latents.end()) return DataLoss(cache.path + ": no latent_flip/" + stem + " for " + image.file);
      example.latent_flip = mirrored->second.to(at::kFloat);
    }
    const std::vector<int64_t> tokens = tokenizer.Encode(image.caption);
    if (tokens.size() > 75) {
      return InvalidArgument(image.file + ": caption '" + image.caption + "' is " + std::to_string(tokens.size()) +
                             " tokens, CLIP takes 75");
    }
    const std::vector<int64_t> ids = tokenizer.EncodePadded(image.caption, 77);
    example.input_ids = at::tensor(at::ArrayRef<int64_t>(ids), at::kLong);
    data.examples.push_back(std::move(example));
    data.captions.push_back(image.caption);
  }
  return data;
}

}  // namespace farm::agent
