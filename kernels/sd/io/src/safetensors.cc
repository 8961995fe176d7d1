#include "farm/sd/safetensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "farm/sd/json.h"
#include "pickle_guard.h"

namespace farm::sd {
namespace {

// Tensor bytes are copied verbatim; the format is little-endian.
static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader copies bytes as they are");

// A header is a few hundred kB even for SDXL; a length beyond this is corruption or an
// attempt to make the reader allocate without bound.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeEntry {
  DType dtype;
  const char* name;
  size_t size;
  at::ScalarType scalar_type;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::kF64, "F64", 8, at::kDouble},   {DType::kF32, "F32", 4, at::kFloat},
    {DType::kF16, "F16", 2, at::kHalf},     {DType::kBF16, "BF16", 2, at::kBFloat16},
    {DType::kI64, "I64", 8, at::kLong},     {DType::kI32, "I32", 4, at::kInt},
    {DType::kI16, "I16", 2, at::kShort},    {DType::kI8, "I8", 1, at::kChar},
    {DType::kU8, "U8", 1, at::kByte},       {DType::kBool, "BOOL", 1, at::kBool},
};

const DTypeEntry& Entry(DType dtype) { return kDTypes[static_cast<int>(dtype)]; }

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string OffsetsText(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// The byte count of `shape` in `dtype`, or nullopt when it does not fit in 64 bits.
std::optional<uint64_t> ByteCount(const std::vector<int64_t>& shape, DType dtype) {
  uint64_t total = DTypeSize(dtype);
  for (int64_t dim : shape) {
    if (__builtin_mul_overflow(total, static_cast<uint64_t>(dim), &total)) return std::nullopt;
  }
  return total;
}

std::optional<uint64_t> NonNegativeInt(const Json& value) {
  if (!value.is_number()) return std::nullopt;
  std::optional<int64_t> v = value.AsInt64();
  if (!v || *v < 0) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

StatusOr<TensorInfo> ParseEntry(const std::string& name, const Json& entry, uint64_t data_size) {
  auto error = [&](const std::string& what) { return InvalidArgument("tensor '" + name + "': " + what); };
  if (!entry.is_object()) {
    return error(std::string("entry is a ") + Json::TypeName(entry.type()) +
                 ", expected an object with dtype, shape and data_offsets");
  }
  TensorInfo info;
  info.name = name;

  const Json* dtype = entry.Find("dtype");
  if (!dtype || !dtype->is_string()) return error("missing \"dtype\" (a string such as \"F32\")");
  std::optional<DType> parsed = DTypeFromName(dtype->text());
  if (!parsed) {
    return error("unknown dtype " + Quote(dtype->text()) +
                 " (expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
  }
  info.dtype = *parsed;

  const Json* shape = entry.Find("shape");
  if (!shape || !shape->is_array()) return error("missing \"shape\" (an array of non-negative integers)");
  for (size_t i = 0; i < shape->items().size(); ++i) {
    const Json& dim = shape->items()[i];
    std::optional<uint64_t> value = NonNegativeInt(dim);
    if (!value) {
      return error("shape[" + std::to_string(i) + "] is " +
                   (dim.is_number() ? dim.text() : std::string("a ") + Json::TypeName(dim.type())) +
                   ", expected a non-negative integer");
    }
    info.shape.push_back(static_cast<int64_t>(*value));
  }

  const Json* offsets = entry.Find("data_offsets");
  std::optional<uint64_t> begin, end;
  if (offsets && offsets->is_array() && offsets->items().size() == 2) {
    begin = NonNegativeInt(offsets->items()[0]);
    end = NonNegativeInt(offsets->items()[1]);
  }
  if (!begin || !end) return error("\"data_offsets\" must be [begin, end] with non-negative integers");
  info.begin = *begin;
  info.end = *end;
  const std::string where = "data_offsets " + OffsetsText(info.begin, info.end);
  if (info.begin > info.end) return error(where + " end before they begin");
  if (info.end > data_size) {
    return error(where + " run past the end of the data section (" + std::to_string(data_size) +
                 " bytes); the file is truncated or the header is wrong");
  }
  std::optional<uint64_t> needed = ByteCount(info.shape, info.dtype);
  const std::string typed = std::string(DTypeName(info.dtype)) + " " + ShapeText(info.shape);
  if (!needed) return error(typed + " needs more bytes than fit in 64 bits");
  if (info.end - info.begin != *needed) {
    return error(where + " hold " + std::to_string(info.end - info.begin) + " bytes but " + typed +
                 " needs " + std::to_string(*needed));
  }
  return info;
}

Status ParseMetadata(const Json& value, std::map<std::string, std::string>& out) {
  if (!value.is_object()) {
    return InvalidArgument(std::string("\"__metadata__\" is a ") + Json::TypeName(value.type()) +
                           ", expected an object of strings");
  }
  for (const auto& [key, item] : value.members()) {
    if (!item.is_string()) {
      return InvalidArgument("\"__metadata__\" entry " + Quote(key) + " is a " +
                             Json::TypeName(item.type()) + ", expected a string");
    }
    out[key] = item.text();
  }
  return Status::Ok();
}

}  // namespace

const char* DTypeName(DType dtype) { return Entry(dtype).name; }
size_t DTypeSize(DType dtype) { return Entry(dtype).size; }
at::ScalarType ToScalarType(DType dtype) { return Entry(dtype).scalar_type; }

std::optional<DType> DTypeFromName(std::string_view name) {
  for (const DTypeEntry& e : kDTypes) {
    if (name == e.name) return e.dtype;
  }
  return std::nullopt;
}

std::optional<DType> DTypeFromScalarType(at::ScalarType type) {
  for (const DTypeEntry& e : kDTypes) {
    if (type == e.scalar_type) return e.dtype;
  }
  return std::nullopt;
}

StatusOr<std::shared_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) return NotFound(path + ": no such file");
  if (fs::is_directory(status)) return InvalidArgument(path + ": is a folder, expected a .safetensors file");
  FARM_RETURN_IF_ERROR(RefusePickleCheckpoint(path));

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unavailable(path + ": cannot open: " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + ": not a regular file");
  }
  const size_t size = static_cast<size_t>(info.st_size);
  if (size < 8) {
    ::close(fd);
    return DataLoss(path + ": " + (size == 0 ? std::string("file is empty") : "file has only " + std::to_string(size) + " bytes") +
                    ", too short for the 8-byte header length of a safetensors file");
  }
  void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (mapping == MAP_FAILED) return Unavailable(path + ": cannot map the file: " + std::strerror(map_errno));

  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = static_cast<const unsigned char*>(mapping);
  file->mapping_size_ = size;
  Status header = file->ReadHeader();
  if (!header.ok()) return header.WithContext(path);
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) ::munmap(const_cast<unsigned char*>(mapping_), mapping_size_);
}

Status SafetensorsFile::ReadHeader() {
  uint64_t length = 0;
  std::memcpy(&length, mapping_, 8);
  const uint64_t after_length = mapping_size_ - 8;
  if (length > kMaxHeaderBytes) {
    return InvalidArgument("header length " + std::to_string(length) + " exceeds the limit of " +
                           std::to_string(kMaxHeaderBytes) + " bytes (not a safetensors file?)");
  }
  if (length > after_length) {
    return DataLoss("header length " + std::to_string(length) + " runs past the end of the file (" +
                    std::to_string(after_length) + " bytes follow the length field); truncated file?");
  }
  data_start_ = 8 + length;
  const uint64_t data_size = after_length - length;

  std::string_view text(reinterpret_cast<const char*>(mapping_ + 8), length);
  StatusOr<Json> doc = Json::Parse(text);
  if (!doc.ok()) return InvalidArgument("header is not valid JSON: " + doc.status().message());
  if (!doc->is_object()) {
    return InvalidArgument(std::string("header is a JSON ") + Json::TypeName(doc->type()) +
                           ", expected an object");
  }
  for (const auto& [name, value] : doc->members()) {
    if (name == "__metadata__") {
      FARM_RETURN_IF_ERROR(ParseMetadata(value, metadata_));
      continue;
    }
    FARM_ASSIGN_OR_RETURN(TensorInfo info, ParseEntry(name, value, data_size));
    index_[name] = tensors_.size();
    tensors_.push_back(std::move(info));
  }

  // Two names over the same bytes would let one tensor's edits show in another.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : tensors_) {
    if (t.end > t.begin) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& a = *by_offset[i - 1];
    const TensorInfo& b = *by_offset[i];
    if (b.begin < a.end) {
      return InvalidArgument("tensors '" + a.name + "' " + OffsetsText(a.begin, a.end) + " and '" + b.name +
                             "' " + OffsetsText(b.begin, b.end) + " overlap");
    }
  }
  return Status::Ok();
}

const TensorInfo* SafetensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

StatusOr<at::Tensor> SafetensorsFile::Load(const std::string& name) const {
  const TensorInfo* info = Find(name);
  if (!info) return NotFound(path_ + ": no tensor named '" + name + "'");
  const unsigned char* bytes = mapping_ + data_start_ + info->begin;
  const size_t count = info->end - info->begin;
  if (info->dtype == DType::kBool) {
    // Any byte other than 0/1 is not a valid bool and would be undefined behaviour in ATen.
    for (size_t i = 0; i < count; ++i) {
      if (bytes[i] > 1) {
        return InvalidArgument(path_ + ": tensor '" + name + "': BOOL byte " + std::to_string(i) + " is " +
                               std::to_string(bytes[i]) + ", expected 0 or 1");
      }
    }
  }
  try {
    at::Tensor tensor = at::empty(info->shape, at::TensorOptions().dtype(ToScalarType(info->dtype)));
    if (count > 0) {
      std::memcpy(tensor.data_ptr(), bytes, count);
      // The copy is all that is kept: let the kernel drop the file pages now, or a
      // checkpoint load would hold the file and its copy in memory at once (8 GB instead
      // of 4 for SD 1.5 in fp32). Whole pages inside the tensor's bytes only.
      const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
      const uintptr_t first = (reinterpret_cast<uintptr_t>(bytes) + page - 1) & ~(page - 1);
      const uintptr_t last = (reinterpret_cast<uintptr_t>(bytes) + count) & ~(page - 1);
      if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    }
    return tensor;
  } catch (const std::exception& e) {
    return Internal(path_ + ": tensor '" + name + "': cannot allocate " + std::to_string(count) +
                    " bytes: " + e.what());
  }
}

StatusOr<TensorMap> ReadSafetensors(const std::string& path) {
  FARM_ASSIGN_OR_RETURN(std::shared_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  TensorMap out;
  for (const TensorInfo& info : file->tensors()) {
    FARM_ASSIGN_OR_RETURN(out[info.name], file->Load(info.name));
  }
  return out;
}

}  // namespace farm::sd
