#include "master/copy_slots.h"

#include <algorithm>

namespace ternion::master {

std::optional<uint32_t> CopySlots::PickSource(absl::Span<const uint32_t> holders) const {
  std::optional<uint32_t> best;
  for (uint32_t h : holders) {
    if (HasRoom(h) && (!best || busy(h) < busy(*best))) best = h;
  }
  return best;
}

void CopySlots::Start(uint32_t source, uint32_t target) {
  busy_.resize(std::max<size_t>(busy_.size(), std::max(source, target) + 1), 0);
  ++busy_[source];
  ++busy_[target];
}

void CopySlots::End(uint32_t source, uint32_t target) {
  if (source < busy_.size() && busy_[source] > 0) --busy_[source];
  if (target < busy_.size() && busy_[target] > 0) --busy_[target];
}

}  // namespace ternion::master
