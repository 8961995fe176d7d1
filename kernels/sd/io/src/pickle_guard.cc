#include "pickle_guard.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace farm::sd {
namespace {

bool HasPickleExtension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin";
}

// Pickle protocol 2..5 starts with PROTO (0x80) and the protocol number; torch.save
// since 1.6 writes a zip archive. A safetensors file can start with the same two bytes
// (a header length of 0x0380 is 80 03 ...), so a file whose header then opens a JSON
// object inside the file is not taken for a pickle.
bool HasPickleMagic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<unsigned char, 9> head{};
  in.read(reinterpret_cast<char*>(head.data()), head.size());
  const std::streamsize got = in.gcount();
  if (got < 2) return false;
  const bool pickle = head[0] == 0x80 && head[1] >= 0x02 && head[1] <= 0x05;
  const bool zip = got >= 4 && std::memcmp(head.data(), "PK\x03\x04", 4) == 0;
  if (!pickle && !zip) return false;
  if (got == 9 && head[8] == '{') {
    uint64_t header_length = 0;
    for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | head[i];
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(path, ec);
    if (!ec && header_length <= size - 8) return false;
  }
  return true;
}

}  // namespace

Status RefusePickleCheckpoint(const std::string& path) {
  const bool by_name = HasPickleExtension(path);
  if (!by_name && !HasPickleMagic(path)) return Status::Ok();
  return InvalidArgument(
      path + ": " +
      (by_name ? std::string("a pickle checkpoint (.ckpt/.pt/.pth/.bin)")
               : std::string("starts with pickle/zip magic bytes, i.e. is a torch pickle checkpoint")) +
      "; refusing to load it, because unpickling can run arbitrary code. Convert it to "
      ".safetensors once, on a trusted machine: for a single file, e.g. "
      "`python -c \"import torch, safetensors.torch as st; sd = torch.load('model.ckpt', "
      "map_location='cpu', weights_only=True); sd = sd.get('state_dict', sd); "
      "st.save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors')\"` "
      "(or the safetensors convert script); for a diffusers pipeline, "
      "`pipe.save_pretrained(folder, safe_serialization=True)`");
}

}  // namespace farm::sd
