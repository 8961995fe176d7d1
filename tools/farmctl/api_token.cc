#include "api_token.h"

#include <sys/random.h>
#include <sys/types.h>

namespace farmctl {

farm::StatusOr<std::string> NewApiToken() {
  unsigned char bytes[32];
  if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    return farm::Unavailable("cannot read 32 random bytes (getrandom)");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

}  // namespace farmctl
