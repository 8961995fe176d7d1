# Precompiled headers for the heavy third-party headers.
#
# Parsing <ATen/ATen.h> costs about 14 s of CPU per translation unit here, more than most
# of our own code in it, and GoogleTest about 3 s in each of some hundred test files.
# Each precompiled header is built once and reused by every target of its kind, which
# then pays well under a second to load it.
#
# farm_precompile_headers()
#   Call once, after every target is declared (end of the top-level CMakeLists.txt, or of
#   kernels/ when built alone). Every library, executable and test that compiles with
#   libtorch's usage requirements (_farm_links_torch) gets <ATen/ATen.h>
#   (tests: with <gtest/gtest.h>); every other test
#   gets <gtest/gtest.h>. -Winvalid-pch makes a PCH that GCC refuses (other flags) show
#   up as a warning instead of silently costing the time. FARM_NO_PCH=ON turns it off.
#   Targets with many files over the same heavy headers get their own instead: farmctl
#   (CLI11, nlohmann/json) and farmd's library (protobuf messages, spdlog, nlohmann/json).
include_guard(GLOBAL)

# true in `out` when `target`'s usage requirements carry libtorch: it links `torch` in
# its interface, directly or through the interfaces of its dependencies. Private links of
# a dependency (`$<LINK_ONLY:...>`) do not count: they reach the link line, not the
# compile flags, and a torch PCH without torch's definitions is refused by GCC.
function(_farm_interface_has_torch target out)
  get_property(known GLOBAL PROPERTY _FARM_TORCH_INTERFACE_${target} SET)
  if(known)
    get_property(answer GLOBAL PROPERTY _FARM_TORCH_INTERFACE_${target})
    set(${out} ${answer} PARENT_SCOPE)
    return()
  endif()
  set_property(GLOBAL PROPERTY _FARM_TORCH_INTERFACE_${target} FALSE)  # cycles end here
  get_target_property(interface ${target} INTERFACE_LINK_LIBRARIES)
  _farm_any_torch("${interface}" answer)
  set_property(GLOBAL PROPERTY _FARM_TORCH_INTERFACE_${target} ${answer})
  set(${out} ${answer} PARENT_SCOPE)
endfunction()

# true in `out` when one of `deps` is torch or a target whose interface carries it.
function(_farm_any_torch deps out)
  foreach(dep IN LISTS deps)
    if(dep MATCHES "^\\$<LINK_ONLY:")
      continue()
    endif()
    if(dep STREQUAL "torch" OR dep STREQUAL "torch_cpu")
      set(${out} TRUE PARENT_SCOPE)
      return()
    endif()
    if(TARGET ${dep})
      _farm_interface_has_torch(${dep} dep_has)
      if(dep_has)
        set(${out} TRUE PARENT_SCOPE)
        return()
      endif()
    endif()
  endforeach()
  set(${out} FALSE PARENT_SCOPE)
endfunction()

# true in `out` when `target` compiles with libtorch's flags: it links torch itself, or a
# dependency whose interface carries it.
function(_farm_links_torch target out)
  get_target_property(type ${target} TYPE)
  set(deps "")
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    get_target_property(direct ${target} LINK_LIBRARIES)
    if(direct)
      list(APPEND deps ${direct})
    endif()
  endif()
  _farm_any_torch("${deps}" answer)
  set(${out} ${answer} PARENT_SCOPE)
endfunction()

function(_farm_collect_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _farm_collect_targets(${sub} sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# An OBJECT library that owns one precompiled header for others to reuse.
function(_farm_pch_owner name)
  cmake_parse_arguments(ARG "" "" "LINK;HEADERS" ${ARGN})
  add_library(${name} OBJECT "${FARM_REPO_ROOT}/tools/cmake/pch_anchor.cc")
  target_link_libraries(${name} PRIVATE ${ARG_LINK})
  target_precompile_headers(${name} PRIVATE ${ARG_HEADERS})
endfunction()

function(farm_precompile_headers)
  if(FARM_NO_PCH)
    return()
  endif()
  # Through a PCH, GCC 12 reports its known false -Warray-bounds, -Wstringop-overflow and
  # -Wstringop-overread on std::string copies inside libstdc++ (e.g. push_back of a
  # literal) in our files: the system-header status that hides them without a PCH is lost.
  # Measured here: 19 such warnings, all in libstdc++'s char_traits.h, none without a PCH.
  set(_farm_pch_quiet "")
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    set(_farm_pch_quiet -Wno-array-bounds -Wno-stringop-overflow -Wno-stringop-overread)
  endif()
  if(TARGET farmctl)
    target_precompile_headers(farmctl PRIVATE <CLI/CLI.hpp> <nlohmann/json.hpp>)
    target_compile_options(farmctl PRIVATE ${_farm_pch_quiet})
  endif()
  if(TARGET farm_coordinator)
    target_precompile_headers(farm_coordinator PRIVATE <farm.pb.h> <spdlog/spdlog.h> <nlohmann/json.hpp>)
    target_compile_options(farm_coordinator PRIVATE ${_farm_pch_quiet})
  endif()
  _farm_collect_targets(${CMAKE_SOURCE_DIR} targets)
  set(have_torch FALSE)
  if(TARGET torch)
    set(have_torch TRUE)
    _farm_pch_owner(farm_pch_torch LINK torch HEADERS <ATen/ATen.h>)
  endif()
  set(have_gtest FALSE)
  if(TARGET farm_test_main)
    find_package(GTest QUIET)  # imported targets are per directory: tests/ found it for itself
  endif()
  if(TARGET GTest::gtest AND TARGET farm_test_main)
    set(have_gtest TRUE)
    _farm_pch_owner(farm_pch_gtest LINK GTest::gtest HEADERS <gtest/gtest.h>)
    if(have_torch)
      _farm_pch_owner(farm_pch_torch_gtest LINK torch GTest::gtest HEADERS <ATen/ATen.h> <gtest/gtest.h>)
    endif()
  endif()
  set(counts "")
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$"
       OR target MATCHES "^farm_pch_")
      continue()
    endif()
    get_target_property(imported ${target} IMPORTED)
    get_target_property(own_pch ${target} PRECOMPILE_HEADERS)
    if(imported OR own_pch)
      continue()
    endif()
    set(links_torch FALSE)
    if(have_torch)
      _farm_links_torch(${target} links_torch)
    endif()
    get_target_property(direct ${target} LINK_LIBRARIES)
    set(is_test FALSE)
    if(have_gtest AND direct AND "farm_test_main" IN_LIST direct)
      set(is_test TRUE)
    endif()
    if(links_torch AND is_test)
      set(owner farm_pch_torch_gtest)
    elseif(links_torch)
      set(owner farm_pch_torch)
    elseif(is_test)
      set(owner farm_pch_gtest)
    else()
      continue()
    endif()
    target_precompile_headers(${target} REUSE_FROM ${owner})
    target_compile_options(${target} PRIVATE -Winvalid-pch ${_farm_pch_quiet})
    list(APPEND counts ${owner})
  endforeach()
  foreach(owner farm_pch_torch farm_pch_torch_gtest farm_pch_gtest)
    list(FILTER counts EXCLUDE REGEX "^$")
    set(matching ${counts})
    list(FILTER matching INCLUDE REGEX "^${owner}$")
    list(LENGTH matching n)
    if(n GREATER 0)
      message(STATUS "precompiled header ${owner}: reused by ${n} targets")
    endif()
  endforeach()
endfunction()
