// Writing safetensors files (the reader is safetensors.cc). One serializer feeds a sink,
// so the file writer, the in-memory copy and kohya's hashes see the same bytes.
#include <ATen/ATen.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "farm/sd/safetensors.h"

namespace farm::sd {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this writer copies bytes as they are");

// The Rust crate refuses headers above this (MAX_HEADER_SIZE); so do we, so that a file
// we write is one Python can read.
constexpr size_t kMaxHeaderBytes = 100'000'000;

// A JSON string as serde_json writes it: '"' and '\\' escaped, the five short escapes,
// other control bytes as \u00xx (lower-case hex); everything else, UTF-8 included, as is.
void AppendJsonString(std::string& out, const std::string& text) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Position of a dtype in the Rust crate's `Dtype` enum, largest first: its `prepare`
// sorts by `right.dtype().cmp(&left.dtype())`, i.e. descending enum order.
int PythonDTypeRank(DType dtype) {
  switch (dtype) {
    case DType::kI64: return 0;
    case DType::kF64: return 1;
    case DType::kF32: return 2;
    case DType::kI32: return 3;
    case DType::kBF16: return 4;
    case DType::kF16: return 5;
    case DType::kI16: return 6;
    case DType::kI8: return 7;
    case DType::kU8: return 8;
    case DType::kBool: return 9;
  }
  return 10;
}

struct Entry {
  const std::string* name;
  const at::Tensor* tensor;
  DType dtype;
  uint64_t bytes;
};

// Checks every tensor and returns them in file order.
StatusOr<std::vector<Entry>> OrderedEntries(const TensorMap& tensors, SafetensorsLayout layout) {
  std::vector<Entry> entries;
  entries.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    auto error = [&](const std::string& what) { return InvalidArgument("tensor '" + name + "': " + what); };
    if (name == "__metadata__") return error("the name is reserved for the metadata");
    if (!tensor.defined()) return error("undefined tensor");
    std::optional<DType> dtype = DTypeFromScalarType(tensor.scalar_type());
    if (!dtype) return error(std::string("dtype ") + c10::toString(tensor.scalar_type()) + " cannot be stored");
    entries.push_back({&name, &tensor, *dtype, static_cast<uint64_t>(tensor.numel()) * DTypeSize(*dtype)});
  }
  // TensorMap is sorted by name (byte order, as Rust's String Ord), so a stable sort by
  // dtype rank alone gives "dtype, then name".
  if (layout == SafetensorsLayout::kPython) {
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return PythonDTypeRank(a.dtype) < PythonDTypeRank(b.dtype);
    });
  }
  return entries;
}

std::string Header(const std::vector<Entry>& entries, const std::map<std::string, std::string>* metadata,
                   SafetensorsLayout layout) {
  std::string header = "{";
  const bool with_metadata = metadata && (layout == SafetensorsLayout::kPython || !metadata->empty());
  if (with_metadata) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : *metadata) {
      if (!first) header += ',';
      first = false;
      AppendJsonString(header, key);
      header += ':';
      AppendJsonString(header, value);
    }
    header += '}';
  }
  uint64_t offset = 0;
  for (const Entry& e : entries) {
    if (header.size() > 1) header += ',';
    AppendJsonString(header, *e.name);
    header += ":{\"dtype\":\"";
    header += DTypeName(e.dtype);
    header += "\",\"shape\":[";
    for (int64_t i = 0; i < e.tensor->dim(); ++i) {
      if (i) header += ',';
      header += std::to_string(e.tensor->size(i));
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + e.bytes) + "]}";
    offset += e.bytes;
  }
  header += '}';
  // Padding keeps the data section 8-byte aligned for readers that map it directly.
  header.append((8 - header.size() % 8) % 8, ' ');
  return header;
}

}  // namespace

Status StreamSafetensors(const TensorMap& tensors, const std::map<std::string, std::string>* metadata,
                         SafetensorsLayout layout, const SafetensorsSink& sink) {
  FARM_ASSIGN_OR_RETURN(std::vector<Entry> entries, OrderedEntries(tensors, layout));
  const std::string header = Header(entries, metadata, layout);
  if (header.size() > kMaxHeaderBytes) {
    return InvalidArgument("header of " + std::to_string(header.size()) + " bytes exceeds the limit of " +
                           std::to_string(kMaxHeaderBytes) + " bytes that safetensors readers accept");
  }
  const uint64_t length = header.size();
  char length_bytes[8];
  std::memcpy(length_bytes, &length, 8);
  FARM_RETURN_IF_ERROR(sink(std::string_view(length_bytes, 8)));
  FARM_RETURN_IF_ERROR(sink(header));
  for (const Entry& e : entries) {
    at::Tensor data;
    try {
      data = e.tensor->to(at::kCPU).contiguous();
    } catch (const std::exception& ex) {
      return Internal("tensor '" + *e.name + "': cannot copy to the CPU: " + ex.what());
    }
    if (e.bytes > 0) {
      FARM_RETURN_IF_ERROR(sink(std::string_view(static_cast<const char*>(data.data_ptr()), e.bytes)));
    }
  }
  return Status::Ok();
}

StatusOr<std::string> SerializeSafetensorsAsPython(const TensorMap& tensors,
                                                   const std::map<std::string, std::string>* metadata) {
  std::string out;
  Status streamed = StreamSafetensors(tensors, metadata, SafetensorsLayout::kPython, [&](std::string_view bytes) {
    out.append(bytes);
    return Status::Ok();
  });
  if (!streamed.ok()) return streamed;
  return out;
}

namespace {

// Writes the whole file to `temp`; the caller renames or removes it.
Status WriteFileContents(const std::string& temp, const TensorMap& tensors,
                         const std::map<std::string, std::string>& metadata, SafetensorsLayout layout) {
  std::FILE* out = std::fopen(temp.c_str(), "wb");
  if (!out) return Unavailable("cannot create " + temp + ": " + std::strerror(errno));
  Status written = StreamSafetensors(tensors, &metadata, layout, [&](std::string_view bytes) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), out) != bytes.size()) {
      return Unavailable("cannot write " + temp + ": " + std::strerror(errno));
    }
    return Status::Ok();
  });
  if (written.ok() && (std::fflush(out) != 0 || ::fsync(::fileno(out)) != 0)) {
    written = Unavailable("cannot flush " + temp + ": " + std::strerror(errno));
  }
  if (std::fclose(out) != 0 && written.ok()) {
    written = Unavailable("cannot close " + temp + ": " + std::strerror(errno));
  }
  return written;
}

}  // namespace

Status WriteSafetensors(const std::string& path, const TensorMap& tensors,
                        const std::map<std::string, std::string>& metadata, SafetensorsLayout layout) {
  static std::atomic<uint64_t> counter{0};
  const std::string temp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  Status written = WriteFileContents(temp, tensors, metadata, layout);
  if (written.ok() && std::rename(temp.c_str(), path.c_str()) != 0) {
    written = Unavailable("cannot rename " + temp + " into place: " + std::strerror(errno));
  }
  if (!written.ok()) {
    std::remove(temp.c_str());
    return written.WithContext(path);
  }
  return written;
}

}  // namespace farm::sd
