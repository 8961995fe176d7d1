// Python's spelling of values, for metadata that Python tools wrote first and front ends
// parse back: kohya sd-scripts stores every training setting as `str(value)`, and a
// reader expects "1e-05", "True" and "None" exactly as Python prints them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace farm::sd {

// repr()/str() of a Python float: the shortest digits that read back to `value`, in
// positional form for 1e-4 <= |value| < 1e16 ("0.0001", "64.0", "1700000000.123456")
// and in exponent form otherwise ("1e-05", "1e+16", "1.5e-10"); "nan", "inf", "-inf".
std::string PythonFloatRepr(double value);

// str() of a Python bool.
inline std::string PythonBool(bool value) { return value ? "True" : "False"; }

// str() of an optional value: "None" when absent.
inline std::string PythonOptionalFloat(const std::optional<double>& value) {
  return value ? PythonFloatRepr(*value) : "None";
}
inline std::string PythonOptionalInt(const std::optional<int64_t>& value) {
  return value ? std::to_string(*value) : "None";
}
inline std::string PythonOptionalString(const std::optional<std::string>& value) {
  return value ? *value : "None";
}

// json.dumps() of a str with its defaults (ensure_ascii=True): '"' and '\\' escaped,
// \n \r \t \b \f short, every other character outside ' '..'~' as \uXXXX (lower-case
// hex, UTF-16 surrogate pairs above U+FFFF). Bytes that are not valid UTF-8 become
// U+FFFD, since a Python str cannot hold them.
std::string PythonJsonString(std::string_view utf8);

}  // namespace farm::sd
