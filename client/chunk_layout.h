#pragma once

// Pure arithmetic of how a file's byte space maps onto chunks and wire frames.

#include <cstdint>
#include <vector>

namespace ternion::client {

struct ChunkSlice {
  uint64_t index = 0;            // chunk index in the file
  uint64_t offset_in_chunk = 0;
  uint64_t length = 0;
  uint64_t file_offset = 0;
  bool operator==(const ChunkSlice&) const = default;
};

// Splits [offset, offset+length) into per-chunk pieces, in order.
// REQUIRES: chunk_size > 0.
std::vector<ChunkSlice> SplitRange(uint64_t offset, uint64_t length, uint64_t chunk_size);

// The length of the next frame to send when the writer is at file position `pos` with
// `available` bytes buffered: never more than `max_frame`, never across a chunk boundary.
uint64_t NextFrameLength(uint64_t pos, uint64_t available, uint64_t chunk_size,
                         uint64_t max_frame);

}  // namespace ternion::client
