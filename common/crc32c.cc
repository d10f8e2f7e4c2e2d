#include "common/crc32c.h"

#include <isa-l/crc.h>

#include <climits>

namespace ternion {

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n) {
  // crc32_iscsi neither pre- nor post-inverts; the standard CRC32C does both.
  uint32_t state = ~crc;
  const unsigned char* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    int piece = n > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
    state = crc32_iscsi(const_cast<unsigned char*>(p), piece, state);
    p += piece;
    n -= piece;
  }
  return ~state;
}

}  // namespace ternion
