// The vocabulary file, compiled in (CMake passes its path as FARM_CLIP_BPE_VOCAB_GZ) so
// the engine needs no tokenizer folder next to a single-file checkpoint.
#include "bpe_vocab_gz.h"

extern "C" const char farm_clip_bpe_vocab_gz_begin[];
extern "C" const char farm_clip_bpe_vocab_gz_end[];

__asm__(".pushsection .rodata.farm_clip_bpe_vocab_gz, \"a\", @progbits\n"
        ".balign 16\n"
        ".hidden farm_clip_bpe_vocab_gz_begin\n"
        ".globl farm_clip_bpe_vocab_gz_begin\n"
        "farm_clip_bpe_vocab_gz_begin:\n"
        ".incbin \"" FARM_CLIP_BPE_VOCAB_GZ "\"\n"
        ".hidden farm_clip_bpe_vocab_gz_end\n"
        ".globl farm_clip_bpe_vocab_gz_end\n"
        "farm_clip_bpe_vocab_gz_end:\n"
        ".popsection\n");

namespace farm::sd {

std::string_view BundledBpeVocabGz() {
  return std::string_view(farm_clip_bpe_vocab_gz_begin,
                          static_cast<size_t>(farm_clip_bpe_vocab_gz_end - farm_clip_bpe_vocab_gz_begin));
}

}  // namespace farm::sd
