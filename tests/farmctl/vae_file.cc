#include "vae_file.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

namespace farmctl_test {

std::string WriteVaeFromCheckpoint(const std::string& checkpoint_path, const std::string& vae_path,
                                   const VaeFileOptions& options) {
  std::ifstream in(checkpoint_path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.size() < 8) return checkpoint_path + ": too short for a safetensors file";
  std::uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  if (length > bytes.size() - 8) return checkpoint_path + ": header runs past the end";
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, length), nullptr, false);
  if (!header.is_object()) return checkpoint_path + ": the header is not a JSON object";
  const std::string prefix = "first_stage_model.";
  const std::size_t data_start = 8 + length;

  nlohmann::json out_header = nlohmann::json::object();
  std::string data;
  for (const auto& [key, entry] : header.items()) {
    if (!key.starts_with(prefix)) continue;
    const std::string name = key.substr(prefix.size());
    if (name == options.drop) continue;
    const std::uint64_t begin = entry["data_offsets"][0].get<std::uint64_t>();
    const std::uint64_t end = entry["data_offsets"][1].get<std::uint64_t>();
    if (data_start + end > bytes.size()) return checkpoint_path + ": tensor '" + key + "' runs past the end";
    std::string tensor = bytes.substr(data_start + begin, end - begin);
    if (name == "decoder.conv_out.weight" && entry["dtype"] == "F32") {
      for (std::size_t at = 0; at + 4 <= tensor.size(); at += 4) {
        float value = 0;
        std::memcpy(&value, tensor.data() + at, 4);
        value *= options.decoder_out_scale;
        std::memcpy(tensor.data() + at, &value, 4);
      }
    }
    out_header[name] = {{"dtype", entry["dtype"]},
                        {"shape", entry["shape"]},
                        {"data_offsets", {data.size(), data.size() + tensor.size()}}};
    data += tensor;
  }
  if (out_header.empty()) return checkpoint_path + ": no first_stage_model.* tensors";
  std::string text = out_header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string file(8, '\0');
  const std::uint64_t text_length = text.size();
  std::memcpy(file.data(), &text_length, 8);
  std::ofstream out(vae_path, std::ios::binary | std::ios::trunc);
  out << file << text << data;
  out.close();
  return out ? "" : "cannot write " + vae_path;
}

}  // namespace farmctl_test
