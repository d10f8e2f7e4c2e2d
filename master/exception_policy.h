#pragma once

// Exception policies of protected projects (docs/security.md, "Project protection"): the JSON
// document an owner sets, parsed into the statements the access decision reads. Pure: the
// snapshot resources it names are resolved to file ids by the master when the policy is set.
//
//   {"Version": "1",
//    "Statement": [{"Effect": "Allow",
//                   "Principal": ["bob"],                      users, or "*"
//                   "Action": ["read"],                        action names
//                   "Resource": ["t", "logs/*", "*", "snapshot:t.snap"],
//                   "Condition": {"StringEquals": {"task_type": ["sql"]}}}]}   optional
//
// A resource is a path in the project, a prefix ending in '*', "*" (every path), or
// "snapshot:PATH": the file at PATH when the policy is set, and only that file (a snapshot), so
// data written later elsewhere is not covered. Only "Allow" statements exist: everything else
// is refused by protection already. Unknown keys are refused, so a misspelt condition does not
// silently widen a statement.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "master/access_policy.h"

namespace ternion::master {

inline constexpr char kSnapshotResourcePrefix[] = "snapshot:";
inline constexpr size_t kMaxExceptionStatements = 100;
inline constexpr size_t kMaxExceptionListEntries = 100;

// The statements of `json`, each resource's path as written ("snapshot:" kept, pinned_file_id
// 0). INVALID_ARGUMENT naming the first thing wrong; an empty document (or "") is no policy.
absl::StatusOr<std::vector<ExceptionStatement>> ParseExceptionPolicy(const std::string& json);

}  // namespace ternion::master
