#include "master/ip_whitelist.h"

#include <arpa/inet.h>

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ternion::master {
namespace {

using U128 = unsigned __int128;

// An address as 128 bits (IPv4 mapped into IPv6), and whether it was IPv4.
std::optional<std::pair<U128, bool>> ToBits(absl::string_view text) {
  const std::string s(text);
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    return std::make_pair((U128{0xffff} << 32) | ntohl(v4.s_addr), true);
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    U128 bits = 0;
    for (unsigned char b : v6.s6_addr) bits = (bits << 8) | b;
    return std::make_pair(bits, false);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<IpWhitelist> IpWhitelist::Parse(absl::string_view text) {
  IpWhitelist list;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    auto bad = [&] {
      return absl::InvalidArgumentError(absl::StrCat(
          "whitelist entry \"", entry, "\" is not an address, a range a-b or a CIDR block"));
    };
    if (list.ranges_.size() >= kMaxEntries) {
      return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxEntries, " entries"));
    }
    Range r;
    if (const size_t dash = entry.find('-'); dash != absl::string_view::npos) {
      auto lo = ToBits(absl::StripAsciiWhitespace(entry.substr(0, dash)));
      auto hi = ToBits(absl::StripAsciiWhitespace(entry.substr(dash + 1)));
      if (!lo || !hi || lo->second != hi->second || lo->first > hi->first) return bad();
      r = {lo->first, hi->first};
    } else if (const size_t slash = entry.find('/'); slash != absl::string_view::npos) {
      auto base = ToBits(entry.substr(0, slash));
      int bits = 0;
      if (!base || !absl::SimpleAtoi(entry.substr(slash + 1), &bits)) return bad();
      const int width = base->second ? 32 : 128;
      if (bits < 0 || bits > width) return bad();
      const int host_bits = width - bits;
      const U128 host_mask = host_bits == 128 ? ~U128{0} : (U128{1} << host_bits) - 1;
      r = {base->first & ~host_mask, base->first | host_mask};
    } else {
      auto one = ToBits(entry);
      if (!one) return bad();
      r = {one->first, one->first};
    }
    list.ranges_.push_back(r);
  }
  return list;
}

IpWhitelist IpWhitelist::Nobody() {
  IpWhitelist list;
  list.ranges_.push_back({1, 0});  // empty: lo > hi
  return list;
}

bool IpWhitelist::Allows(absl::string_view ip) const {
  if (off()) return true;
  auto bits = ToBits(ip);
  if (!bits) return false;
  for (const Range& r : ranges_) {
    if (bits->first >= r.lo && bits->first <= r.hi) return true;
  }
  return false;
}

}  // namespace ternion::master
