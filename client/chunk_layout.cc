#include "client/chunk_layout.h"

#include <algorithm>

namespace ternion::client {

std::vector<ChunkSlice> SplitRange(uint64_t offset, uint64_t length, uint64_t chunk_size) {
  std::vector<ChunkSlice> out;
  while (length > 0) {
    ChunkSlice s;
    s.index = offset / chunk_size;
    s.offset_in_chunk = offset % chunk_size;
    s.length = std::min(length, chunk_size - s.offset_in_chunk);
    s.file_offset = offset;
    out.push_back(s);
    offset += s.length;
    length -= s.length;
  }
  return out;
}

uint64_t NextFrameLength(uint64_t pos, uint64_t available, uint64_t chunk_size,
                         uint64_t max_frame) {
  uint64_t to_chunk_end = chunk_size - pos % chunk_size;
  return std::min({available, max_frame, to_chunk_end});
}

}  // namespace ternion::client
