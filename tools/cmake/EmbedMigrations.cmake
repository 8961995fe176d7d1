# Writes a C++ source defining farm::Migrations() from the .sql files in MIGRATIONS_DIR.
# Run as: cmake -DMIGRATIONS_DIR=... -DOUTPUT=... -P EmbedMigrations.cmake
file(GLOB sql_files "${MIGRATIONS_DIR}/*.sql")
list(SORT sql_files)
set(body "")
set(expected 1)
foreach(path IN LISTS sql_files)
  get_filename_component(file_name "${path}" NAME_WE)
  if(NOT file_name MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)$")
    message(FATAL_ERROR "${path}: migration files are named NNNN_lower_snake.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  set(name "${CMAKE_MATCH_2}")
  if(NOT version EQUAL expected)
    message(FATAL_ERROR "${path}: expected migration number ${expected} (no gaps, no repeats)")
  endif()
  math(EXPR expected "${expected} + 1")
  file(READ "${path}" sql)
  string(FIND "${sql}" ")farmsql\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${path}: contains the raw-string delimiter )farmsql\"")
  endif()
  string(APPEND body "      {${version}, \"${name}\", R\"farmsql(${sql})farmsql\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp"
"// Generated from schemas/migrations by tools/cmake/EmbedMigrations.cmake. Do not edit.
#include \"farm/schemas/migrations.h\"

namespace farm {

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
${body}  };
  return kMigrations;
}

int LatestSchemaVersion() {
  return Migrations().empty() ? 0 : Migrations().back().version;
}

}  // namespace farm
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
file(REMOVE "${OUTPUT}.tmp")
