#include "daemon/control_framing.h"

#include <gtest/gtest.h>

namespace tandem::daemon {
namespace {

std::span<const std::byte> bytes_of(const std::vector<std::byte>& v) {
  return v;
}

TEST(ControlFraming, RoundTripsMessagesFedByteByByte) {
  std::vector<std::byte> wire;
  ASSERT_TRUE(append_control_frame(std::string("hello"), wire).ok());
  ASSERT_TRUE(append_control_frame(std::string(""), wire).ok());
  ASSERT_TRUE(append_control_frame(std::string(70000, 'x'), wire).ok());
  EXPECT_EQ(wire.size(), 4 + 5 + 4 + 0 + 4 + 70000u);
  EXPECT_EQ(wire[0], std::byte{0});
  EXPECT_EQ(wire[3], std::byte{5});

  ControlFrameReader reader;
  std::vector<std::string> got;
  for (std::byte b : wire) {
    reader.feed(std::span(&b, 1));
    while (true) {
      auto m = reader.next();
      ASSERT_TRUE(m.ok());
      if (!m->has_value()) break;
      got.push_back(**m);
    }
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "hello");
  EXPECT_EQ(got[1], "");
  EXPECT_EQ(got[2], std::string(70000, 'x'));
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST(ControlFraming, OversizedLengthFailsBeforeBuffering) {
  ControlFrameReader reader;
  const std::vector<std::byte> header = {std::byte{0x00}, std::byte{0x10}, std::byte{0x00},
                                         std::byte{0x01}};  // 1 MiB + 1
  reader.feed(bytes_of(header));
  auto m = reader.next();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("exceeds the limit"), std::string::npos);
  EXPECT_TRUE(reader.failed());
  EXPECT_FALSE(reader.next().ok());  // stays failed
}

TEST(ControlFraming, LimitIsInclusiveAndSenderRefusesLarger) {
  std::vector<std::byte> wire;
  EXPECT_TRUE(append_control_frame(std::string(kMaxControlMessageBytes, 'a'), wire).ok());
  std::vector<std::byte> too_big;
  EXPECT_FALSE(append_control_frame(std::string(kMaxControlMessageBytes + 1, 'a'), too_big).ok());
  EXPECT_TRUE(too_big.empty());
  ControlFrameReader reader;
  reader.feed(bytes_of(wire));
  auto m = reader.next();
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->size(), kMaxControlMessageBytes);
}

TEST(ControlFraming, PartialHeaderWaitsForMore) {
  ControlFrameReader reader;
  const std::vector<std::byte> part = {std::byte{0}, std::byte{0}};
  reader.feed(bytes_of(part));
  auto m = reader.next();
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value());
}

}  // namespace
}  // namespace tandem::daemon
