#include "farm/image/png_text.h"

#include <zlib.h>

#include "png_chunks.h"
#include "text_encoding.h"

namespace farm::image {
namespace {

using internal::PngChunk;

Status ValidateKeyword(const std::string& keyword) {
  if (keyword.empty() || keyword.size() > 79) {
    return InvalidArgument("PNG text keyword '" + keyword + "' must have 1 to 79 characters");
  }
  for (char c : keyword) {
    if (c < 0x20 || c > 0x7E) {
      return InvalidArgument("PNG text keyword '" + keyword +
                             "' may hold printable ASCII characters only");
    }
  }
  if (keyword.front() == ' ' || keyword.back() == ' ' ||
      keyword.find("  ") != std::string::npos) {
    return InvalidArgument("PNG text keyword '" + keyword +
                           "' has a leading, trailing or double space");
  }
  return Status::Ok();
}

// zlib inflate of a zTXt / iTXt payload, capped at kMaxPngTextBytes.
StatusOr<std::string> Inflate(std::string_view compressed, const std::string& where) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) return Internal(where + ": zlib inflateInit failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[16384];
  // Z_BUF_ERROR (input ended early) and data errors end the loop too.
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (out.size() > kMaxPngTextBytes) {
      inflateEnd(&stream);
      return DataLoss(where + ": compressed text inflates beyond " +
                      std::to_string(kMaxPngTextBytes) + " bytes");
    }
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) return DataLoss(where + ": compressed text does not inflate");
  return out;
}

// Splits "keyword\0rest" at the first NUL.
bool SplitAtNul(std::string_view data, std::string_view* head, std::string_view* rest) {
  const size_t nul = data.find('\0');
  if (nul == std::string_view::npos) return false;
  *head = data.substr(0, nul);
  *rest = data.substr(nul + 1);
  return true;
}

// Decodes one text chunk; nullopt for chunks that are not text.
StatusOr<std::optional<PngTextEntry>> DecodeTextChunk(const PngChunk& chunk,
                                                      const std::string& origin) {
  const std::string where =
      origin + ": " + chunk.type + " chunk at offset " + std::to_string(chunk.offset);
  if (chunk.type != "tEXt" && chunk.type != "zTXt" && chunk.type != "iTXt") {
    return std::optional<PngTextEntry>();
  }
  std::string_view keyword, rest;
  if (!SplitAtNul(chunk.data, &keyword, &rest) || keyword.empty() || keyword.size() > 79) {
    return DataLoss(where + ": malformed (no keyword of 1-79 bytes followed by NUL)");
  }
  PngTextEntry entry;
  entry.keyword = internal::Latin1ToUtf8(keyword);
  if (chunk.type == "tEXt") {
    entry.text = internal::Latin1ToUtf8(rest);
  } else if (chunk.type == "zTXt") {
    if (rest.empty() || rest[0] != 0) {
      return DataLoss(where + ": unknown compression method");
    }
    FARM_ASSIGN_OR_RETURN(std::string latin1, Inflate(rest.substr(1), where));
    entry.text = internal::Latin1ToUtf8(latin1);
  } else {  // iTXt: flag, method, language\0, translated keyword\0, text
    if (rest.size() < 2) return DataLoss(where + ": malformed (no compression fields)");
    const char flag = rest[0];
    const char method = rest[1];
    std::string_view language, translated, text;
    if (!SplitAtNul(rest.substr(2), &language, &rest) ||
        !SplitAtNul(rest, &translated, &text)) {
      return DataLoss(where + ": malformed (language tag or translated keyword not terminated)");
    }
    if (flag == 0) {
      entry.text = std::string(text);
    } else if (flag == 1 && method == 0) {
      FARM_ASSIGN_OR_RETURN(entry.text, Inflate(text, where));
    } else {
      return DataLoss(where + ": unknown compression flag or method");
    }
    if (!internal::IsValidUtf8(entry.text)) return DataLoss(where + ": text is not UTF-8");
  }
  return std::optional<PngTextEntry>(std::move(entry));
}

}  // namespace

StatusOr<std::vector<PngTextEntry>> ReadPngTexts(std::string_view png, const std::string& origin) {
  FARM_ASSIGN_OR_RETURN(internal::PngChunkList list, internal::ParsePngChunks(png, origin));
  std::vector<PngTextEntry> entries;
  for (const PngChunk& chunk : list.chunks) {
    FARM_ASSIGN_OR_RETURN(std::optional<PngTextEntry> entry, DecodeTextChunk(chunk, origin));
    if (entry) entries.push_back(std::move(*entry));
  }
  return entries;
}

StatusOr<std::optional<std::string>> GetPngText(std::string_view png, const std::string& keyword,
                                                const std::string& origin) {
  FARM_ASSIGN_OR_RETURN(std::vector<PngTextEntry> entries, ReadPngTexts(png, origin));
  for (PngTextEntry& entry : entries) {
    if (entry.keyword == keyword) return std::optional<std::string>(std::move(entry.text));
  }
  return std::optional<std::string>();
}

StatusOr<std::string> SetPngText(std::string_view png, const std::string& keyword,
                                 const std::string& utf8_text, const std::string& origin) {
  FARM_RETURN_IF_ERROR(ValidateKeyword(keyword));
  if (!internal::IsValidUtf8(utf8_text)) {
    return InvalidArgument("PNG text for '" + keyword + "' is not valid UTF-8");
  }
  if (utf8_text.find('\0') != std::string::npos) {
    return InvalidArgument("PNG text for '" + keyword + "' contains a NUL character");
  }
  FARM_ASSIGN_OR_RETURN(internal::PngChunkList list, internal::ParsePngChunks(png, origin));

  std::string chunk;
  if (std::optional<std::string> latin1 = internal::Utf8ToLatin1(utf8_text)) {
    chunk = internal::BuildPngChunk("tEXt", keyword + std::string(1, '\0') + *latin1);
  } else {
    // keyword\0, compression flag 0, method 0, empty language\0, empty translation\0.
    std::string data = keyword;
    data.append(std::string("\0\0\0\0\0", 5));
    data.append(utf8_text);
    chunk = internal::BuildPngChunk("iTXt", data);
  }

  std::string out(internal::kPngSignature);
  for (const PngChunk& existing : list.chunks) {
    FARM_ASSIGN_OR_RETURN(std::optional<PngTextEntry> entry, DecodeTextChunk(existing, origin));
    if (entry && entry->keyword == keyword) continue;  // replaced
    out.append(png.substr(existing.offset, existing.total_size));
    if (existing.type == "IHDR") out.append(chunk);
  }
  return out;
}

}  // namespace farm::image
