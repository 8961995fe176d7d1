// ISO-8601 UTC text <-> ms since the Unix epoch, for time columns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace farm::query {

// "2026-12-01", "2026-12-01T10:00", "2026-12-01 10:00:00", "2026-12-01T10:00:00.250Z",
// "2026-12-01T10:00:00+02:00". No offset means UTC. nullopt when not such a date.
std::optional<std::int64_t> ParseIsoTimeMs(std::string_view text);

// "2026-12-01T10:00:00.250Z".
std::string FormatIsoTimeMs(std::int64_t ms);

}  // namespace farm::query
