// Anchor of the shared precompiled headers (tools/cmake/FarmPch.cmake): a precompiled
// header belongs to a target, and a target needs a source.
