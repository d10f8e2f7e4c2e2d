#include "chunkserver/cluster_stamp.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace ternion::chunkserver {
namespace {

constexpr char kStampHeader[] = "ternion-cluster-stamp 1";

std::string StampPath(const std::string& dir) { return dir + "/cluster"; }

// The id in `dir`'s stamp, "" when it has none.
absl::StatusOr<std::string> ReadOne(const std::string& dir) {
  absl::StatusOr<std::string> text = ReadFileToString(StampPath(dir));
  if (absl::IsNotFound(text.status())) return std::string();
  RETURN_IF_ERROR(text.status());
  std::vector<std::string> lines = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  if (lines.size() != 2 || lines[0] != kStampHeader || lines[1].rfind("cluster_id=", 0) != 0 ||
      lines[1].size() <= 11 || lines[1].size() > 128) {
    return absl::DataLossError(absl::StrCat(StampPath(dir), " is not a cluster stamp"));
  }
  return lines[1].substr(11);
}

}  // namespace

absl::StatusOr<std::string> ReadClusterStamp(const std::vector<std::string>& dirs) {
  std::string found, found_in;
  for (const std::string& dir : dirs) {
    absl::StatusOr<std::string> id = ReadOne(dir);
    if (!id.ok()) {
      if (absl::IsDataLoss(id.status())) return id.status();
      continue;  // an unreadable directory: the store marks it failed
    }
    if (id->empty()) continue;
    if (!found.empty() && *id != found) {
      return absl::FailedPreconditionError(
          absl::StrCat("data directories of different clusters: ", found_in, " belongs to ", found,
                       ", ", dir, " to ", *id, "; remove the directory that does not belong"));
    }
    found = *id;
    found_in = dir;
  }
  return found;
}

absl::Status StampCluster(const std::vector<std::string>& dirs, const std::string& cluster_id) {
  for (const std::string& dir : dirs) {
    absl::StatusOr<std::string> id = ReadOne(dir);
    if (!id.ok() || !id->empty()) continue;  // unreadable (failed) or stamped already
    RETURN_IF_ERROR(WriteFileAtomically(
        StampPath(dir), absl::StrCat(kStampHeader, "\ncluster_id=", cluster_id, "\n")));
  }
  return absl::OkStatus();
}

}  // namespace ternion::chunkserver
