#pragma once

// A project's IP whitelist (SPEC section 7): entries are single addresses ("10.0.0.1"), ranges
// ("10.0.0.5-10.0.0.9", both ends included) and CIDR blocks ("10.1.0.0/16"), IPv4 or IPv6,
// separated by commas. An empty list is off (every address passes). Pure; parsed once when
// set, matched on every call of the project.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ternion::master {

class IpWhitelist {
 public:
  // INVALID_ARGUMENT naming the first entry that is not an address, range or block.
  static absl::StatusOr<IpWhitelist> Parse(absl::string_view text);

  // A list no address passes (a stored list that no longer parses fails closed).
  static IpWhitelist Nobody();

  bool off() const { return ranges_.empty(); }
  // Whether `ip` (as gRPC reports a peer, without port) may call; true when the list is off.
  bool Allows(absl::string_view ip) const;

  static constexpr size_t kMaxEntries = 1000;

 private:
  struct Range {
    unsigned __int128 lo, hi;  // IPv4 as ::ffff:a.b.c.d
  };
  std::vector<Range> ranges_;
};

}  // namespace ternion::master
