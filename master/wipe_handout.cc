#include "master/wipe_handout.h"

namespace ternion::master {

std::vector<uint64_t> WipeHandout::Next(uint32_t server, const absl::btree_set<uint64_t>& pending,
                                        absl::Time now) {
  std::vector<uint64_t> out;
  uint64_t& cursor = cursor_[server];
  auto it = pending.lower_bound(cursor);
  for (size_t seen = 0; seen < pending.size() && static_cast<int>(out.size()) < per_heartbeat_;
       ++seen, ++it) {
    if (it == pending.end()) it = pending.begin();  // wrap around
    const uint64_t id = *it;
    cursor = id + 1;
    auto [sent, added] = sent_.try_emplace({id, server}, now);
    if (!added && now - sent->second < resend_after_) continue;
    sent->second = now;
    out.push_back(id);
  }
  return out;
}

}  // namespace ternion::master
