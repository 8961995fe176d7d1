// The ZeroMQ AgentLink: one ROUTER socket that farm-agents' DEALERs connect to, with
// CURVE encryption and a ZAP handler that admits only listed agent keys.
//
// Socket settings and why:
//   ZMQ_ROUTER_MANDATORY  Send to a gone peer fails (Unavailable, send_unroutable) instead
//                         of being dropped silently; with ZMQ_DONTWAIT a peer whose queue
//                         is at the high-water mark fails too (Unavailable "queue full",
//                         send_full): an overloaded farm slows down, it does not lose work.
//   ZMQ_ROUTER_HANDOVER   an agent that reconnects with the same routing id (its agent id)
//                         takes the id over from its dead connection.
//   ZMQ_SNDHWM/RCVHWM     from LinkLimits.
//   Send of a message over max_frame_bytes is InvalidArgument (the agent would drop it).
//   ZMQ_MAXMSGSIZE        2 x max_frame_bytes. Frames up to that size reach Receive, which
//                         counts those over max_frame_bytes in dropped_malformed and keeps
//                         the agent's connection; beyond it libzmq cuts the connection
//                         before buffering the frame (memory stays bounded; the DEALER
//                         reconnects), and such a frame is not counted.
//
// Security (curve = true): the ROUTER is a CURVE server. A ZAP handler, a REP socket
// bound to inproc://zeromq.zap.01 in the link's own context, runs on a small thread
// started by ListenForAgents (so handshakes complete even while farmd's loop is busy).
// It admits CURVE clients whose public key is in allowed_client_keys and answers "400"
// to everything else. Clients that speak NULL or PLAIN never reach ZAP (libzmq refuses
// the mechanism mismatch in the greeting); the same thread watches the ROUTER's monitor
// for those, and for handshakes the client abandoned (a NULL client often hangs up before
// the server sees the mismatch, so both count). All of these count in
// stats().auth_refused and are logged once per key / kind of failure, so a misconfigured
// agent retrying every second does not flood the log.
//
// Threading: the AgentLink methods, stats() included, are used from one thread (farmd's
// loop). The log callback is called on the ZAP thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "farm/transport/agent_link.h"

namespace farm::transport {

enum class LinkLogLevel { kInfo, kWarning };

struct ZmqLinkOptions {
  // Where the ROUTER binds. Port 0 picks a free port; endpoint() reports the real one.
  std::string endpoint = "tcp://127.0.0.1:0";

  LinkLimits limits;

  // CURVE on (the default) needs server_secret_key and at least one allowed key; off is
  // for loopback tests only: then anyone who can connect is admitted.
  bool curve = true;
  std::string server_secret_key;                 // Z85
  std::vector<std::string> allowed_client_keys;  // Z85 public keys of admitted agents

  // Receives refusals and other security events. May be empty. Called on the ZAP thread.
  std::function<void(LinkLogLevel, const std::string&)> log;
};

// Binds the ROUTER and starts the ZAP thread. InvalidArgument for a malformed key, CURVE
// without keys, or limits that are not positive (max_frame_bytes at most 512 MiB), Unavailable when
// the endpoint cannot be bound. The caller owns the link; destroying it stops the thread and closes
// the socket without lingering.
StatusOr<std::unique_ptr<AgentLink>> ListenForAgents(const ZmqLinkOptions& options);

}  // namespace farm::transport
