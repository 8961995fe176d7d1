// The fuzz entry for the render-query language: the bytes go to BuildRenderQuery as a
// filter and as an order-by list. Besides crashes, it checks that an accepted query binds
// exactly one value per '?' and that a refused one explains itself. Built as a libFuzzer
// target with clang and, everywhere, as a replay test over the seed corpus in
// corpus_query/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace farm::fuzz {

// Always returns 0 (libFuzzer's contract); aborts when a check fails.
int FuzzRenderQuery(const std::uint8_t* data, std::size_t size);

}  // namespace farm::fuzz
