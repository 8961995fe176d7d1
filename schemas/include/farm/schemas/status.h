// Errors as values at module boundaries (see leveldb's Status, ray's StatusOr).
//
// A Status is either OK or carries a code that callers act on plus a message written
// for a person: what failed, where (file:line:column when there is one) and, when it
// helps, what was expected. Libraries that throw (SQLiteCpp, yaml-cpp, cppzmq, libtorch)
// are caught at the adapter and converted here.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace farm {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input from a user, a file or a message
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // a unique thing would be created twice
  kFailedPrecondition,  // the world is in the wrong state (e.g. database too new)
  kUnavailable,         // a peer or resource is gone; retrying may help
  kTimedOut,
  kDataLoss,            // a file is truncated or corrupt
  kInternal,            // a broken invariant inside the farm
};

// Stable lower-case name of a code ("invalid_argument"), used in JSON output.
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid_argument: <message>", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "StatusOr built from an OK status has no value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace farm

// Returns the status from the enclosing function when it is not OK.
#define FARM_RETURN_IF_ERROR(expr)          \
  do {                                      \
    ::farm::Status farm_status_ = (expr);   \
    if (!farm_status_.ok()) return farm_status_; \
  } while (0)

#define FARM_CONCAT_INNER_(a, b) a##b
#define FARM_CONCAT_(a, b) FARM_CONCAT_INNER_(a, b)
// Declares `lhs` from a StatusOr, or returns its status from the enclosing function.
#define FARM_ASSIGN_OR_RETURN(lhs, expr) \
  FARM_ASSIGN_OR_RETURN_IMPL_(FARM_CONCAT_(farm_statusor_, __LINE__), lhs, expr)
#define FARM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
