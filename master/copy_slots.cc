#include "master/copy_slots.h"

#include <algorithm>

namespace ternion::master {

std::optional<uint32_t> CopySlots::PickSource(absl::Span<const uint32_t> holders) const {
  std::optional<uint32_t> best;
  for (uint32_t h : holders) {
    if (sending(h) < limit_ && (!best || sending(h) < sending(*best))) best = h;
  }
  return best;
}

void CopySlots::Start(uint32_t source, uint32_t target) {
  if (source >= out_.size()) out_.resize(source + 1, 0);
  if (target >= in_.size()) in_.resize(target + 1, 0);
  ++out_[source];
  ++in_[target];
}

void CopySlots::End(uint32_t source, uint32_t target) {
  if (source < out_.size() && out_[source] > 0) --out_[source];
  if (target < in_.size() && in_[target] > 0) --in_[target];
}

}  // namespace ternion::master
