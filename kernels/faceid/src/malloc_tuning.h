// Keeps glibc from handing the nets' large, short-lived tensors back to the kernel.
#pragma once

namespace farm::faceid::internal {

// Once per process: glibc's malloc serves blocks above its (adaptive) mmap threshold
// with mmap and trims the heap top above 128 KiB by default, so every detector layer's
// multi-MB output was fresh pages: page faults and zeroing were over half the time of an
// analysis. Sets M_MMAP_THRESHOLD to 32 MiB (the largest glibc accepts; the detector's
// largest tensor is 8 MiB) and M_TRIM_THRESHOLD to 256 MiB, so freed blocks are reused.
// Process-wide; a no-op without glibc.
void KeepFreedTensorMemory();

}  // namespace farm::faceid::internal
