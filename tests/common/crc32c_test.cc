#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace ternion {
namespace {

TEST(Crc32cTest, StandardCheckValue) {
  // The CRC-32C check value from the iSCSI specification (RFC 3720 B.4).
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(Crc32cTest, Rfc3720Vectors) {
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string data;
  for (int i = 0; i < 200000; ++i) data.push_back(static_cast<char>(i * 131 + 7));
  for (size_t split : {size_t{0}, size_t{1}, size_t{4095}, size_t{65536}, data.size()}) {
    uint32_t a = Crc32c(data.data(), split);
    EXPECT_EQ(Crc32cExtend(a, data.data() + split, data.size() - split), Crc32c(data)) << split;
  }
}

TEST(Crc32cTest, DetectsSingleBitFlip) {
  std::string data(65536, 'x');
  uint32_t before = Crc32c(data);
  data[1234] ^= 0x01;
  EXPECT_NE(Crc32c(data), before);
}

}  // namespace
}  // namespace ternion
