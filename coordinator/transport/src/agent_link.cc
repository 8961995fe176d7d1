// Defaults of the AgentLink interface.
#include "farm/transport/agent_link.h"

namespace farm::transport {

Status AgentLink::ReplaceAllowedClientKeys(const std::vector<std::string>& /*keys*/) {
  return FailedPrecondition("this agent link has no allow-list (CURVE is off)");
}

}  // namespace farm::transport
