// The dashboard's static files (coordinator/farmd/web), compiled into farmd by
// web/embed_assets.cmake. They hold no data, so they are served without the token.
#pragma once

#include <string_view>
#include <vector>

namespace farm::farmd {

struct DashboardAsset {
  std::string_view name;          // file name under web/, e.g. "app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// Every embedded file (generated source).
const std::vector<DashboardAsset>& DashboardAssets();

}  // namespace farm::farmd
