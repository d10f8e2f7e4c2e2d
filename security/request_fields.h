#pragma once

// What a signature covers of a request message, computed the same way by the client that signs
// and the master that verifies: the message's deterministic serialization (its digest goes
// into the canonical form) and the project it acts on.

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/status.h"

namespace ternion::security {

// The request's bytes in protobuf's deterministic serialization.
std::string RequestPayload(const google::protobuf::Message& request);

// The project a request acts on: its string field `project`, or that of its field `lease`
// (the writers' calls); empty when it has neither (cluster-wide calls).
std::string RequestProject(const google::protobuf::Message& request);

// Where the data a request reads goes: its field `context` (a DataContext: the project of the
// job it reads for, and the job's task type); empty when it has none. With it, the columns the
// read scans: the request's repeated field `columns` (empty: every column).
struct DataContext {
  std::string project;
  std::string task_type;
  std::vector<std::string> columns;
};
DataContext RequestContext(const google::protobuf::Message& request);

// The paths inside its project a request names: its fields `path`, `new_path`,
// `snapshot_path` and `prefix`, and its lease's `path`, when set (empty: none, the call is about
// the project itself).
std::vector<std::string> RequestPaths(const google::protobuf::Message& request);

// INVALID_ARGUMENT naming the field when any string or bytes field of `request` (nested messages
// included) is longer than `max_bytes`, or any repeated field has more than `max_items`
// entries. Every request is checked at admission, before its handler runs.
absl::Status CheckRequestBounds(const google::protobuf::Message& request, size_t max_bytes,
                                size_t max_items);

}  // namespace ternion::security
