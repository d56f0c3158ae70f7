#include "two_node_harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace tandem::core::testing {

ReplicatorConfig make_config(const std::string& self, uint32_t self_id, const std::string& peer,
                             WireProtocol protocol, bool two_primaries) {
  ReplicatorConfig c;
  c.resource = "r0";
  c.local_node = self;
  c.local_node_id = self_id;
  c.peer_node = peer;
  c.protocol = protocol;
  c.allow_two_primaries = two_primaries;
  c.resync_chunk_bytes = 16 * 1024;
  c.resync_max_in_flight = 3;
  c.uuid_seed = 1000 + self_id;
  return c;
}

Metadata fresh_metadata() {
  return Metadata{};
}

Metadata uptodate_metadata(uint64_t current_uuid) {
  Metadata m;
  m.current_uuid = current_uuid;
  m.consistent = true;
  m.up_to_date = true;
  return m;
}

SimNode::SimNode(ReplicatorConfig config, uint64_t disk_bytes)
    : disk(disk_bytes), core_(std::move(config)) {}

uint64_t SimNode::write(uint64_t offset, std::vector<std::byte> data, bool fua) {
  const uint64_t id = next_request_++;
  AppRequest& r = requests_[id];
  r.kind = AppRequest::Kind::kWrite;
  r.offset = offset;
  r.buffer = std::move(data);
  r.written = r.buffer;
  core_.submit_write(id, offset,
                     ConstBuffer{r.buffer.data(), static_cast<uint32_t>(r.buffer.size())}, fua);
  return id;
}

uint64_t SimNode::write_pattern(uint64_t offset, uint32_t length, uint8_t seed, bool fua) {
  std::vector<std::byte> data(length);
  for (uint32_t i = 0; i < length; ++i) {
    data[i] = static_cast<std::byte>((seed * 31U + i * 7U + (i >> 9)) & 0xFFU);
  }
  return write(offset, std::move(data), fua);
}

uint64_t SimNode::read(uint64_t offset, uint32_t length) {
  const uint64_t id = next_request_++;
  AppRequest& r = requests_[id];
  r.kind = AppRequest::Kind::kRead;
  r.offset = offset;
  r.buffer.assign(length, std::byte{0xEE});
  core_.submit_read(id, offset, MutableBuffer{r.buffer.data(), length});
  return id;
}

uint64_t SimNode::flush() {
  const uint64_t id = next_request_++;
  requests_[id].kind = AppRequest::Kind::kFlush;
  core_.submit_flush(id);
  return id;
}

size_t SimNode::unfinished_requests() const {
  size_t n = 0;
  for (const auto& [id, r] : requests_) n += r.done ? 0 : 1;
  return n;
}

TwoNodeHarness::TwoNodeHarness(ReplicatorConfig a, ReplicatorConfig b, uint64_t disk_bytes,
                               uint64_t seed)
    : rng_(seed) {
  nodes_[0] = std::make_unique<SimNode>(std::move(a), disk_bytes);
  nodes_[1] = std::make_unique<SimNode>(std::move(b), disk_bytes);
}

void TwoNodeHarness::drain() {
  for (int guard = 0; guard < 1000; ++guard) {
    for (auto& n : nodes_) {
      std::vector<std::pair<uint64_t, int>> done;
      done.swap(n->finished_handlers);
      for (const auto& [id, code] : done) n->core_.on_handler_done(id, code);
    }
    if (!nodes_[0]->core_.has_actions() && !nodes_[1]->core_.has_actions()) return;
    drain_node(0);
    drain_node(1);
  }
  FAIL() << "actions keep coming";
}

void TwoNodeHarness::drain_node(int i) {
  SimNode& n = *nodes_[i];
  n.core_.take_actions(scratch_);
  std::vector<Action> actions;
  actions.swap(scratch_);
  for (auto& action : actions) {
    std::visit(
        [&](auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, SendFrame>) {
            n.sent.push_back(a.type);
            if (!link_up_) return;
            std::vector<std::byte> bytes;
            const auto* msg = reinterpret_cast<const std::byte*>(a.message.data());
            auto r = net::encode_frame(a.type, a.flags, {msg, a.message.size()},
                                       {a.payload, a.payload_length}, bytes);
            ASSERT_TRUE(r.ok()) << r.error().message;
            channel_[i].push_back(std::move(bytes));
          } else if constexpr (std::is_same_v<T, SubmitIo>) {
            ASSERT_LE(a.offset + a.length, n.disk.size());
            n.pending_ios.push_back(a);
            n.submitted.push_back(a);
          } else if constexpr (std::is_same_v<T, CompleteRequest>) {
            auto it = n.requests_.find(a.request_id);
            ASSERT_NE(it, n.requests_.end()) << "completion of unknown request " << a.request_id;
            ASSERT_FALSE(it->second.done) << "request completed twice: " << a.request_id;
            it->second.done = true;
            it->second.result = a.error;
            n.completion_order.push_back(a.request_id);
            // The core must not touch a write's data after completing it.
            if (it->second.kind == AppRequest::Kind::kWrite) {
              std::fill(it->second.buffer.begin(), it->second.buffer.end(), std::byte{0xDD});
            }
          } else if constexpr (std::is_same_v<T, MarkOutOfSync>) {
            n.bitmap.insert(a.offset, a.length);
          } else if constexpr (std::is_same_v<T, ClearOutOfSync>) {
            n.bitmap.erase(a.offset, a.length);
          } else if constexpr (std::is_same_v<T, PersistMetadata>) {
            n.metadata = a.metadata;
            ++n.metadata_writes;
          } else if constexpr (std::is_same_v<T, ArmTimer>) {
            n.timer_armed[static_cast<size_t>(a.timer)] = true;
          } else if constexpr (std::is_same_v<T, CancelTimer>) {
            n.timer_armed[static_cast<size_t>(a.timer)] = false;
          } else if constexpr (std::is_same_v<T, CloseConnection>) {
            n.closes.push_back(a);
            if (link_up_) {
              link_up_ = false;
              channel_[0].clear();
              channel_[1].clear();
              if (exchanging_) {
                lost_after_exchange_[1 - i] = true;
              } else {
                nodes_[1 - i]->core_.on_connection_lost("connection reset by peer");
              }
            }
          } else if constexpr (std::is_same_v<T, StateChanged>) {
            n.state_log.push_back(a.what);
          } else if constexpr (std::is_same_v<T, RunHandler>) {
            // The handler "runs" at once; its end is reported after this batch.
            n.handlers.push_back(a);
            if (n.hold_handlers) return;
            n.finished_handlers.emplace_back(
                a.handler_id, n.handler_exit ? n.handler_exit(a.handler) : kHandlerNotConfigured);
          } else if constexpr (std::is_same_v<T, LogEvent>) {
            n.events.push_back(a.text);
          }
        },
        action);
  }
}

void TwoNodeHarness::connect_both() {
  ASSERT_TRUE(nodes_[0]->core_.connect().ok());
  ASSERT_TRUE(nodes_[1]->core_.connect().ok());
  drain();
  establish();
}

void TwoNodeHarness::open_link() {
  link_up_ = true;
  channel_[0].clear();
  channel_[1].clear();
  nodes_[0]->core_.on_connection_established(1);
  nodes_[1]->core_.on_connection_established(1);
  drain();
}

void TwoNodeHarness::establish() {
  open_link();
  // Each side's first frame is its NodeState. Both are in flight at once,
  // so each node reads the other's even when the first to decide refuses
  // and closes the connection.
  std::vector<std::byte> first[2];
  for (int i = 0; i < 2; ++i) {
    if (channel_[i].empty()) continue;
    first[i] = std::move(channel_[i].front());
    channel_[i].pop_front();
  }
  exchanging_ = true;
  lost_after_exchange_[0] = lost_after_exchange_[1] = false;
  for (int i = 0; i < 2; ++i) {
    if (first[i].empty()) continue;
    net::FrameDecoder dec;
    dec.feed(first[i]);
    auto r = dec.next();
    EXPECT_TRUE(r.ok() && r->has_value());
    if (!r.ok() || !r->has_value()) continue;
    nodes_[1 - i]->core_.on_frame(std::move(**r));
    drain();
  }
  exchanging_ = false;
  for (int i = 0; i < 2; ++i) {
    if (lost_after_exchange_[i]) nodes_[i]->core_.on_connection_lost("connection reset by peer");
  }
  drain();
}

void TwoNodeHarness::cut_link() {
  if (!link_up_) return;
  link_up_ = false;
  channel_[0].clear();
  channel_[1].clear();
  nodes_[0]->core_.on_connection_lost("link cut by the test");
  nodes_[1]->core_.on_connection_lost("link cut by the test");
  drain();
}

std::optional<net::FrameType> TwoNodeHarness::next_frame_type(int from) {
  drain();
  if (channel_[from].empty() || channel_[from].front().size() < net::kFrameHeaderBytes) {
    return std::nullopt;
  }
  auto h = net::decode_frame_header(std::span<const std::byte, net::kFrameHeaderBytes>(
      channel_[from].front().data(), net::kFrameHeaderBytes));
  if (!h) return std::nullopt;
  return h->type;
}

void TwoNodeHarness::corrupt_next(int from) {
  drain();
  ASSERT_FALSE(channel_[from].empty());
  channel_[from].front().back() ^= std::byte{0x01};
}

bool TwoNodeHarness::deliver_one(int from) {
  drain();
  if (channel_[from].empty()) return false;
  std::vector<std::byte> bytes = std::move(channel_[from].front());
  channel_[from].pop_front();
  net::FrameDecoder dec;
  dec.feed(bytes);
  auto r = dec.next();
  EXPECT_TRUE(r.ok() && r->has_value());
  if (!r.ok() || !r->has_value()) return false;
  nodes_[1 - from]->core_.on_frame(std::move(**r));
  drain();
  return true;
}

bool TwoNodeHarness::complete_io(int node, size_t index) {
  drain();
  SimNode& n = *nodes_[node];
  if (index >= n.pending_ios.size()) return false;
  const SubmitIo io = n.pending_ios[index];
  n.pending_ios.erase(n.pending_ios.begin() + static_cast<std::ptrdiff_t>(index));
  const int error = n.io_result ? n.io_result(io) : 0;
  if (error == 0) {
    // Data moves when the I/O completes, so the completion order chosen here
    // is the order in which the disk applied overlapping writes.
    if (io.kind == LocalIoKind::kWrite) {
      std::memcpy(n.disk.data() + io.offset, io.data, io.length);
    } else if (io.kind == LocalIoKind::kRead) {
      std::memcpy(io.data, n.disk.data() + io.offset, io.length);
    }
  }
  n.core_.on_io_complete(io.io_id, error);
  drain();
  return true;
}

void TwoNodeHarness::complete_all_io(int node) {
  while (complete_io(node, 0)) {
  }
}

bool TwoNodeHarness::step() {
  drain();
  const size_t options[4] = {nodes_[0]->pending_ios.size(), nodes_[1]->pending_ios.size(),
                             channel_[0].empty() ? 0U : 1U, channel_[1].empty() ? 0U : 1U};
  int kinds[4];
  int count = 0;
  for (int k = 0; k < 4; ++k) {
    if (options[k] > 0) kinds[count++] = k;
  }
  if (count == 0) return false;
  const int k = kinds[rng_() % static_cast<uint64_t>(count)];
  if (k < 2) return complete_io(k, rng_() % options[k]);
  return deliver_one(k - 2);
}

std::string TwoNodeHarness::first_close_reason() const {
  for (const auto& n : nodes_) {
    if (!n->closes.empty()) return n->closes.front().reason;
  }
  return "";
}

size_t TwoNodeHarness::run_until_quiet(size_t max_steps) {
  size_t steps = 0;
  while (steps < max_steps && step()) ++steps;
  return steps;
}

}  // namespace tandem::core::testing
