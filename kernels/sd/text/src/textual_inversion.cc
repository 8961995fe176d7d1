// ReadTextualInversion and EmbeddingSet: A1111's embedding files and its token-id lookup.
#include "farm/sd/textual_inversion.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <utility>

#include "farm/sd/safetensors.h"

namespace farm::sd {
namespace {

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string TensorNames(const std::vector<TensorInfo>& tensors) {
  std::string out;
  for (size_t i = 0; i < tensors.size() && i < 4; ++i) out += (i ? ", " : "") + tensors[i].name;
  if (tensors.size() > 4) out += ", ...";
  return out;
}

bool IsFloat(DType dtype) {
  return dtype == DType::kF64 || dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

std::string Label(const TextualInversion& embedding) {
  return "embedding '" + embedding.name + "' (" + embedding.path + ")";
}

}  // namespace

StatusOr<TextualInversion> ReadTextualInversion(const std::string& path, std::string name) {
  auto opened = SafetensorsFile::Open(path);  // refuses pickles (.pt/.bin string_to_param files)
  if (!opened.ok() && opened.status().message().find("unpickling") != std::string::npos) {
    // The checkpoint conversion the generic refusal suggests does not fit A1111's
    // {string_to_param: {"*": tensor}} dict; this one does.
    const std::string file_name = std::filesystem::path(path).filename().string();
    const std::string stem = std::filesystem::path(path).stem().string();
    return InvalidArgument(
        path + ": a pickled textual-inversion embedding (.pt/.bin); refusing to load it, because unpickling can "
               "run arbitrary code. Convert it to .safetensors once, on a trusted machine: `python -c \"import "
               "torch, safetensors.torch as st; d = torch.load('" + file_name + "', map_location='cpu', "
               "weights_only=True); st.save_file({'emb_params': next(iter(d['string_to_param'].values()))"
               ".detach().contiguous()}, '" + stem + ".safetensors')\"`");
  }
  if (!opened.ok()) return opened.status().WithContext("textual-inversion embedding");
  const SafetensorsFile& file = **opened;
  const std::vector<TensorInfo>& tensors = file.tensors();
  const std::string where = path + ": ";
  if (tensors.empty()) return InvalidArgument(where + "holds no tensors; expected one embedding tensor (emb_params)");
  if (file.Find("clip_g") != nullptr) {
    return InvalidArgument(where + "an SDXL embedding (clip_g and clip_l vectors); StudioFarm renders SD 1.5, "
                                   "whose text encoder takes 768-wide vectors: use the SD 1.5 version of the embedding");
  }
  if (tensors.size() != 1) {
    return InvalidArgument(where + "holds " + std::to_string(tensors.size()) + " tensors (" + TensorNames(tensors) +
                           "); a textual-inversion embedding file holds one (emb_params, or clip_l alone)");
  }
  const TensorInfo& info = tensors.front();
  if (!IsFloat(info.dtype)) {
    return InvalidArgument(where + "tensor '" + info.name + "' is " + DTypeName(info.dtype) +
                           "; embedding vectors are floating point (F32, F16, BF16)");
  }
  // A1111 reads a 1-D tensor as one vector.
  if (info.shape.empty() || info.shape.size() > 2) {
    return InvalidArgument(where + "tensor '" + info.name + "' has shape " + ShapeText(info.shape) +
                           "; expected [vectors, width] or [width]");
  }
  const int64_t count = info.shape.size() == 2 ? info.shape[0] : 1;
  const int64_t width = info.shape.back();
  if (count == 0 || width == 0) {
    return InvalidArgument(where + "tensor '" + info.name + "' has shape " + ShapeText(info.shape) +
                           ": no vectors; expected [vectors, width] with at least one vector");
  }
  FARM_ASSIGN_OR_RETURN(at::Tensor vectors, file.Load(info.name));
  TextualInversion embedding;
  embedding.name = name.empty() ? std::filesystem::path(path).stem().string() : std::move(name);
  embedding.vectors = vectors.to(at::kFloat).reshape({count, width}).contiguous();
  embedding.path = path;
  if (!at::isfinite(embedding.vectors).all().item<bool>()) {
    return InvalidArgument(where + "tensor '" + info.name + "' holds NaN or infinite values");
  }
  return embedding;
}

StatusOr<std::vector<TextualInversion>> ReadTextualInversionDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound(dir + ": not a folder of textual-inversion embeddings");
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) files.push_back(it->path());
  }
  if (ec) return Unavailable(dir + ": cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<TextualInversion> out;
  for (const fs::path& file : files) {
    std::string ext = file.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext != ".safetensors" && ext != ".pt" && ext != ".bin" && ext != ".pth" && ext != ".ckpt") continue;
    FARM_ASSIGN_OR_RETURN(TextualInversion embedding, ReadTextualInversion(file.string()));
    for (const TextualInversion& other : out) {
      if (other.name == embedding.name) {
        return InvalidArgument(file.string() + " and " + other.path + ": two embeddings named '" + embedding.name + "'");
      }
    }
    out.push_back(std::move(embedding));
  }
  return out;
}

StatusOr<EmbeddingSet> EmbeddingSet::Create(const ClipTokenizer& tokenizer, std::vector<TextualInversion> embeddings,
                                            int64_t width, int64_t max_vectors) {
  EmbeddingSet set;
  for (TextualInversion& embedding : embeddings) {
    if (!embedding.vectors.defined() || embedding.vectors.dim() != 2 || embedding.vector_count() == 0) {
      return InvalidArgument(Label(embedding) + ": no vectors");
    }
    if (embedding.width() != width) {
      return InvalidArgument(Label(embedding) + ": vectors are " + std::to_string(embedding.width()) +
                             " wide, the text encoder's are " + std::to_string(width) +
                             " (an embedding trained for another model)");
    }
    if (embedding.vector_count() > max_vectors) {
      return InvalidArgument(Label(embedding) + ": " + std::to_string(embedding.vector_count()) +
                             " vectors do not fit in one prompt chunk of " + std::to_string(max_vectors) + " tokens");
    }
    std::vector<int64_t> ids = tokenizer.Encode(embedding.name);
    if (ids.empty()) return InvalidArgument(Label(embedding) + ": the name has no tokens to match in a prompt");
    for (const Entry& other : set.entries_) {
      if (other.ids == ids) {
        return InvalidArgument(Label(embedding) + " and " + Label(*other.embedding) +
                               ": the names are the same word to the tokenizer; give one another name");
      }
    }
    Entry entry;
    entry.ids = std::move(ids);
    entry.embedding = std::make_shared<const TextualInversion>(std::move(embedding));
    set.entries_.push_back(std::move(entry));
  }
  // Longest name first, as A1111 sorts its lookup lists; ties keep the given order.
  std::stable_sort(set.entries_.begin(), set.entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.ids.size() > b.ids.size(); });
  return set;
}

std::optional<EmbeddingSet::Match> EmbeddingSet::Find(const std::vector<int64_t>& tokens, size_t position) const {
  for (const Entry& entry : entries_) {
    if (position + entry.ids.size() > tokens.size()) continue;
    if (std::equal(entry.ids.begin(), entry.ids.end(), tokens.begin() + static_cast<std::ptrdiff_t>(position))) {
      return Match{entry.embedding.get(), entry.ids.size()};
    }
  }
  return std::nullopt;
}

}  // namespace farm::sd
