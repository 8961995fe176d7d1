// The fuzz entry for tfjs weights (farm::faceid::TfjsWeights::Parse): a manifest and
// its shard bytes, both untrusted. Input format: 4 bytes little-endian manifest length
// L, then L bytes of manifest JSON (fewer if the input ends early), then the shard
// bytes. Built as a libFuzzer target with clang and, everywhere, as a replay test over
// the seed corpus in corpus_tfjs/ (hand-made valid and broken manifests + bytes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace farm::fuzz {

// Always returns 0 (libFuzzer's contract). A crash, sanitizer report or abort (a broken
// invariant of a successful parse) is the failure.
int FuzzTfjsManifest(const std::uint8_t* data, std::size_t size);

}  // namespace farm::fuzz
