// Store::Select: one read-only statement built elsewhere (farm_query) from a column
// whitelist, with every value bound. Prepared with SQLite's C API, not the statement
// cache: ad-hoc texts would grow the cache without bound.
#include <sqlite3.h>

#include <memory>
#include <string>

#include "farm/store/store.h"
#include "store_impl.h"

namespace farm::store {
namespace {

struct StatementDeleter {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

bool OnlyWhitespaceOrSemicolons(const char* text) {
  for (; *text; ++text) {
    const char c = *text;
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';') return false;
  }
  return true;
}

SqlValue ReadValue(sqlite3_stmt* statement, int column) {
  switch (sqlite3_column_type(statement, column)) {
    case SQLITE_NULL:
      return std::monostate{};
    case SQLITE_INTEGER:
      return static_cast<std::int64_t>(sqlite3_column_int64(statement, column));
    case SQLITE_FLOAT:
      return sqlite3_column_double(statement, column);
    default: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
      const int size = sqlite3_column_bytes(statement, column);
      return std::string(text ? text : "", static_cast<std::size_t>(size));
    }
  }
}

int Bind(sqlite3_stmt* statement, int index, const SqlValue& value) {
  if (std::holds_alternative<std::int64_t>(value)) {
    return sqlite3_bind_int64(statement, index, std::get<std::int64_t>(value));
  }
  if (std::holds_alternative<double>(value)) {
    return sqlite3_bind_double(statement, index, std::get<double>(value));
  }
  if (std::holds_alternative<std::string>(value)) {
    const std::string& text = std::get<std::string>(value);
    return sqlite3_bind_text64(statement, index, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  }
  return sqlite3_bind_null(statement, index);
}

}  // namespace

StatusOr<SelectResult> Store::Select(std::string_view sql, const std::vector<SqlValue>& binds) {
  return Guarded(*impl_, "select", [&]() -> StatusOr<SelectResult> {
    sqlite3* db = impl_->db().getHandle();
    const std::string text(sql);
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db, text.c_str(), static_cast<int>(text.size()), &raw, &tail) !=
        SQLITE_OK) {
      sqlite3_finalize(raw);
      return InvalidArgument(impl_->path() + ": select: " + sqlite3_errmsg(db));
    }
    StatementPtr statement(raw);
    if (!statement) return InvalidArgument(impl_->path() + ": select: empty statement");
    if (tail && !OnlyWhitespaceOrSemicolons(tail)) {
      return InvalidArgument(impl_->path() + ": select: only one statement may run");
    }
    if (!sqlite3_stmt_readonly(statement.get())) {
      return InvalidArgument(impl_->path() + ": select: the statement would write");
    }
    const int parameters = sqlite3_bind_parameter_count(statement.get());
    if (parameters != static_cast<int>(binds.size())) {
      return InvalidArgument(impl_->path() + ": select: the statement has " +
                             std::to_string(parameters) + " parameters but " +
                             std::to_string(binds.size()) + " values were given");
    }
    for (std::size_t i = 0; i < binds.size(); ++i) {
      if (Bind(statement.get(), static_cast<int>(i) + 1, binds[i]) != SQLITE_OK) {
        return InvalidArgument(impl_->path() + ": select: parameter " + std::to_string(i + 1) +
                               ": " + sqlite3_errmsg(db));
      }
    }
    SelectResult result;
    const int columns = sqlite3_column_count(statement.get());
    for (int c = 0; c < columns; ++c) {
      const char* name = sqlite3_column_name(statement.get(), c);
      result.columns.emplace_back(name ? name : "");
    }
    for (;;) {
      const int step = sqlite3_step(statement.get());
      if (step == SQLITE_DONE) break;
      if (step != SQLITE_ROW) {
        const std::string message = sqlite3_errmsg(db);
        if (step == SQLITE_BUSY) return Unavailable(impl_->path() + ": select: " + message);
        if (step == SQLITE_CORRUPT || step == SQLITE_NOTADB) {
          return DataLoss(impl_->path() + ": select: " + message);
        }
        return InvalidArgument(impl_->path() + ": select: " + message);
      }
      std::vector<SqlValue> row;
      row.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) row.push_back(ReadValue(statement.get(), c));
      result.rows.push_back(std::move(row));
    }
    return result;
  });
}

}  // namespace farm::store
