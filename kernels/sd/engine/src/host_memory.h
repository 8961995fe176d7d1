// Memory held by libtorch's CPU convolution caches.
#pragma once

namespace farm::sd {

// libtorch's oneDNN convolutions keep two caches: ideep's LRU of computations (with
// weights reordered into oneDNN's layout) and oneDNN's own primitive cache. On a full
// SD 1.5 render they held about 0.5 GiB that stayed on top of the VAE decoder's peak
// (measured: peak RSS 5.64 GiB with them, 5.15 GiB without, render time unchanged), and
// a long-lived agent rendering many sizes would keep growing them. Both read their size
// from the environment when first used, so this sets it (unless the user already has)
// and must run before the process's first convolution: Engine::Load calls it first.
void LimitCpuKernelCaches();

}  // namespace farm::sd
