# Helpers every module uses, so targets and tests are declared one way.
#
# farm_library(NAME SOURCES... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
#   A static library whose public headers live in ${CMAKE_CURRENT_SOURCE_DIR}/include.
#   Third-party libraries go in PRIVATE_DEPS so their headers stay out of dependents.
#
# farm_test(NAME SOURCES... [DEPS ...] [LABELS ...] [TIMEOUT s])
#   A GoogleTest executable registered with ctest. LABELS: unit, integration, mpi, gpu
#   (default unit). Every suite links the shared test main (tests/support): a suite whose
#   tests all skipped exits 77 and ctest reports it as skipped; with CI=true any skip but
#   "needs a GPU" fails (farm/testing/skip.h).
include_guard(GLOBAL)

# The repository root, also when kernels/ is built on its own.
if(NOT FARM_REPO_ROOT)
  set(FARM_REPO_ROOT "${PROJECT_SOURCE_DIR}")
endif()

function(farm_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                     PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

function(farm_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(NOT TARGET farm_test_main)
    add_library(farm_test_main STATIC "${FARM_REPO_ROOT}/tests/support/farm_test_main.cc")
    target_include_directories(farm_test_main PUBLIC "${FARM_REPO_ROOT}/tests/support/include")
    target_link_libraries(farm_test_main PUBLIC GTest::gtest)
  endif()
  add_executable(${name} ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} farm_test_main GTest::gtest)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT} SKIP_RETURN_CODE 77
    ENVIRONMENT "FARM_SOURCE_DIR=${FARM_REPO_ROOT}")
endfunction()
