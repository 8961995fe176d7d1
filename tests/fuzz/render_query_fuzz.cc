#include "render_query_fuzz.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "farm/query/render_query.h"

namespace farm::fuzz {
namespace {

void Check(bool condition, const char* what, const std::string& input) {
  if (condition) return;
  std::fprintf(stderr, "render query fuzz: %s for input of %zu bytes\n", what, input.size());
  std::abort();
}

void Build(const query::RenderQuery& request, const std::string& input) {
  StatusOr<query::BuiltQuery> built = query::BuildRenderQuery(request);
  if (built.ok()) {
    const auto placeholders = std::count(built->sql.begin(), built->sql.end(), '?');
    Check(static_cast<std::size_t>(placeholders) == built->binds.size(),
          "placeholders and binds differ", input);
    Check(built->columns.size() == built->types.size(), "columns and types differ", input);
    Check(input.find('\0') == std::string::npos, "a NUL byte was accepted", input);
  } else {
    Check(built.status().code() == StatusCode::kInvalidArgument, "not InvalidArgument", input);
    Check(!built.status().message().empty() && built.status().message()[0] != '\n',
          "an error without a first line", input);
  }
}

}  // namespace

int FuzzRenderQuery(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  query::RenderQuery request;
  request.where = input;
  request.limit = 10;
  Build(request, input);
  request.where.clear();
  request.order_by = input;
  Build(request, input);
  return 0;
}

}  // namespace farm::fuzz
