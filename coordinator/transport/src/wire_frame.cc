#include "farm/transport/wire_frame.h"

#include <climits>
#include <string>

namespace farm::transport {

Status DecodeAgentFrame(std::string_view frame, const LinkLimits& limits,
                        studiofarm::v1::Envelope* out) {
  // Checked before parsing: protobuf takes an int length, and big frames cost memory.
  if (frame.size() > limits.max_frame_bytes || frame.size() > static_cast<std::size_t>(INT_MAX)) {
    return InvalidArgument("frame of " + std::to_string(frame.size()) +
                           " bytes exceeds max_frame_bytes");
  }
  if (!out->ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
    return InvalidArgument("frame of " + std::to_string(frame.size()) +
                           " bytes is not a studiofarm.v1.Envelope");
  }
  return Status::Ok();
}

}  // namespace farm::transport
