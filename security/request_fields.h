#pragma once

// What a signature covers of a request message, computed the same way by the client that signs
// and the master that verifies: the message's deterministic serialization (its digest goes
// into the canonical form) and the project it acts on.

#include <string>

#include <google/protobuf/message.h>

namespace ternion::security {

// The request's bytes in protobuf's deterministic serialization.
std::string RequestPayload(const google::protobuf::Message& request);

// The project a request acts on: its string field `project`, or that of its field `lease`
// (the writers' calls); empty when it has neither (cluster-wide calls).
std::string RequestProject(const google::protobuf::Message& request);

}  // namespace ternion::security
