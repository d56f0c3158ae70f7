#include "net/frame.h"

#include <gtest/gtest.h>
#include <algorithm>

#include <cstring>
#include <string>
#include <vector>

namespace tandem::net {
namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> v;
  for (char c : s) v.push_back(static_cast<std::byte>(c));
  return v;
}

std::vector<std::byte> encode(FrameType type, uint16_t flags, std::string_view msg,
                              std::string_view payload) {
  std::vector<std::byte> out;
  const auto m = bytes_of(msg);
  const auto p = bytes_of(payload);
  auto r = encode_frame(type, flags, m, p, out);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return out;
}

TEST(Frame, HeaderLayoutIsBigEndian) {
  const auto f = encode(FrameType::kWrite, 0x0102, "ab", "xyz");
  ASSERT_EQ(f.size(), kFrameHeaderBytes + 5);
  const std::vector<uint8_t> expect = {0x54, 0x4E, 0x44, 0x31, 0x00, 0x08, 0x01, 0x02,
                                       0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03};
  for (size_t i = 0; i < expect.size(); ++i) {
    EXPECT_EQ(static_cast<uint8_t>(f[i]), expect[i]) << "byte " << i;
  }
}

TEST(Frame, DecoderReassemblesFramesSplitAtEveryByte) {
  std::vector<std::byte> stream = encode(FrameType::kHello, 0, "hello", "");
  const auto second = encode(FrameType::kWrite, 3, "meta", std::string(4096, 'd'));
  stream.insert(stream.end(), second.begin(), second.end());

  FrameDecoder dec;
  std::vector<Frame> frames;
  for (std::byte b : stream) {
    dec.feed(std::span<const std::byte>(&b, 1));
    for (;;) {
      auto r = dec.next();
      ASSERT_TRUE(r.ok()) << r.error().message;
      if (!r->has_value()) break;
      frames.push_back(std::move(**r));
    }
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].header.type, FrameType::kHello);
  EXPECT_EQ(frames[0].message, bytes_of("hello"));
  EXPECT_TRUE(frames[0].payload.empty());
  EXPECT_EQ(frames[1].header.type, FrameType::kWrite);
  EXPECT_EQ(frames[1].header.flags, 3);
  EXPECT_EQ(frames[1].message, bytes_of("meta"));
  EXPECT_EQ(frames[1].payload.size(), 4096u);
  EXPECT_EQ(dec.buffered_bytes(), 0u);
}

// Once header and message are in, the rest of a payload is read straight
// into the frame's own buffer (page-aligned, for O_DIRECT): prepare()
// offers exactly what the payload lacks, and the frame handed out is that
// very buffer, so nothing was copied after the read.
TEST(Frame, ALargePayloadIsReadInPlaceIntoAnAlignedBuffer) {
  std::vector<std::byte> payload(256 * 1024);
  for (size_t k = 0; k < payload.size(); ++k) payload[k] = static_cast<std::byte>(k * 7 & 0xff);
  std::vector<std::byte> stream;
  ASSERT_TRUE(encode_frame(FrameType::kResyncData, 0, bytes_of("id"), payload, stream).ok());
  const size_t head = kFrameHeaderBytes + 2;

  FrameDecoder d;
  d.feed(std::span(stream).first(head + 1000));  // header, message, some payload
  auto none = d.next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  const std::span<std::byte> space = d.prepare(1 << 20);
  ASSERT_EQ(space.size(), payload.size() - 1000);
  std::memcpy(space.data(), stream.data() + head + 1000, space.size());
  const std::byte* written_at = space.data();
  d.commit(space.size());

  auto f = d.next();
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->has_value());
  const Frame& frame = **f;
  EXPECT_TRUE(std::ranges::equal(frame.payload, payload));
  EXPECT_EQ(frame.payload.data() + 1000, written_at);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(frame.payload.data()) % kIoBufferAlignment, 0U);
  EXPECT_EQ(d.buffered_bytes(), 0U);

  // The decoder goes on with the next frame as usual.
  std::vector<std::byte> ping;
  ASSERT_TRUE(encode_frame(FrameType::kPing, 0, bytes_of("p"), {}, ping).ok());
  d.feed(ping);
  auto g = d.next();
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(g->has_value());
  EXPECT_EQ((*g)->header.type, FrameType::kPing);
}

// Reading straight into the decoder (prepare/commit) in uneven pieces, with
// frames of very different sizes so that the buffer both grows and drops its
// decoded head, yields the same frames as feed().
TEST(Frame, DecoderFedThroughPrepareAndCommitYieldsTheSameFrames) {
  std::vector<std::byte> stream;
  std::vector<std::vector<std::byte>> payloads;
  for (int i = 0; i < 12; ++i) {
    std::vector<std::byte> p(static_cast<size_t>(i % 3 == 0 ? 300000 : 17 * i));
    for (size_t k = 0; k < p.size(); ++k)
      p[k] = static_cast<std::byte>((k + static_cast<size_t>(i) * 5) & 0xff);
    const std::string msg(static_cast<size_t>(i), 'm');
    ASSERT_TRUE(encode_frame(FrameType::kResyncData, 0,
                             std::as_bytes(std::span(msg.data(), msg.size())), p, stream)
                    .ok());
    payloads.push_back(std::move(p));
  }
  FrameDecoder d;
  std::vector<Frame> got;
  size_t pos = 0;
  size_t step = 1;
  while (pos < stream.size()) {
    const size_t want = std::min(step, stream.size() - pos);
    // More room than is filled; while a payload is being filled, the
    // decoder offers only what that payload still lacks.
    std::span<std::byte> space = d.prepare(want + 100);
    ASSERT_GT(space.size(), 0U);
    const size_t n = std::min(want, space.size());
    std::memcpy(space.data(), stream.data() + pos, n);
    d.commit(n);
    pos += n;
    step = step * 3 % 70001 + 1;
    while (true) {
      auto f = d.next();
      ASSERT_TRUE(f.ok());
      if (!f->has_value()) break;
      got.push_back(std::move(**f));
    }
  }
  ASSERT_EQ(got.size(), payloads.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].message.size(), i);
    EXPECT_TRUE(std::ranges::equal(got[i].payload, payloads[i])) << i;
  }
  EXPECT_EQ(d.buffered_bytes(), 0U);
}

TEST(Frame, BadMagicFailsAndStaysFailed) {
  auto f = encode(FrameType::kPing, 0, "", "");
  f[0] = std::byte{0x00};
  FrameDecoder dec;
  dec.feed(f);
  auto r = dec.next();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("bad frame magic"), std::string::npos);
  dec.feed(encode(FrameType::kPing, 0, "", ""));
  EXPECT_FALSE(dec.next().ok());
  EXPECT_TRUE(dec.failed());
}

TEST(Frame, OversizedLengthsRejectedBeforeBuffering) {
  auto f = encode(FrameType::kWrite, 0, "", "");
  // Announce a payload one byte over the limit; only the header is sent.
  const uint32_t too_big = kMaxPayloadBytes + 1;
  for (int i = 0; i < 4; ++i) {
    f[12 + static_cast<size_t>(i)] = static_cast<std::byte>((too_big >> (8 * (3 - i))) & 0xFF);
  }
  FrameDecoder dec;
  dec.feed(f);
  auto r = dec.next();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("payload"), std::string::npos);
}

TEST(Frame, PayloadOnlyOnDataFrames) {
  std::vector<std::byte> out;
  const auto p = bytes_of("data");
  EXPECT_FALSE(encode_frame(FrameType::kPing, 0, {}, p, out).ok());
  auto f = encode(FrameType::kWrite, 0, "", "data");
  f[5] = static_cast<std::byte>(FrameType::kPing);  // same lengths, wrong type
  FrameDecoder dec;
  dec.feed(f);
  EXPECT_FALSE(dec.next().ok());
}

TEST(Frame, UnknownTypeRejected) {
  auto f = encode(FrameType::kPing, 0, "", "");
  f[4] = std::byte{0x7F};
  FrameDecoder dec;
  dec.feed(f);
  auto r = dec.next();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("unknown frame type"), std::string::npos);
}

TEST(Frame, EncoderRefusesOversizedMessage) {
  std::vector<std::byte> out;
  std::vector<std::byte> msg(kMaxMessageBytes + 1);
  EXPECT_FALSE(encode_frame(FrameType::kHello, 0, msg, {}, out).ok());
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace tandem::net
