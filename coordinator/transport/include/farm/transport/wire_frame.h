// Decoding one agent frame (the part after the routing id) into an Envelope: the single
// place where bytes from the network become a message, shared by both AgentLinks and
// the fuzz target (tests/fuzz).
#pragma once

#include <string_view>

#include "farm.pb.h"
#include "farm/schemas/status.h"
#include "farm/transport/agent_link.h"

namespace farm::transport {

// InvalidArgument when `frame` exceeds limits.max_frame_bytes or is not a serialized
// Envelope; `out` is then unspecified. The link drops such frames and counts them.
Status DecodeAgentFrame(std::string_view frame, const LinkLimits& limits,
                        studiofarm::v1::Envelope* out);

}  // namespace farm::transport
