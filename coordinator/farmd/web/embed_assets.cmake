# Turns the dashboard's files into a C++ source with one byte array per file, so farmd
# serves them from its binary (no files to install, no CDN). Run as a build step:
#   cmake -DOUT=<file.cc> -DBASE=<web dir> "-DFILES=index.html;app.js;app.css" -P embed_assets.cmake
cmake_minimum_required(VERSION 3.20)

set(body "")
set(table "")
set(index 0)
foreach(name IN LISTS FILES)
  file(READ "${BASE}/${name}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # Wrap the byte list so the generated file stays readable by tools that read lines.
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){24})" "\\1\n" bytes "${bytes}")
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  else()
    message(FATAL_ERROR "embed_assets: no content type for '${name}'")
  endif()
  string(APPEND body "// ${name}: ${size} bytes\nconst unsigned char kAsset${index}[] = {\n${bytes}0x00};\n")
  string(APPEND table "      {\"${name}\", \"${type}\",\n       std::string_view(reinterpret_cast<const char*>(kAsset${index}), ${size})},\n")
  math(EXPR index "${index} + 1")
endforeach()

set(text "// Generated from coordinator/farmd/web by embed_assets.cmake at build time: do not edit.
#include \"dashboard_assets.h\"

namespace farm::farmd {
namespace {
${body}}  // namespace

const std::vector<DashboardAsset>& DashboardAssets() {
  static const std::vector<DashboardAsset> assets = {
${table}  };
  return assets;
}

}  // namespace farm::farmd
")
# Rewrite only on change, so an unchanged app does not rebuild farmd.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${text}")
