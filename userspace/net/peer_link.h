// The TCP link of one resource to its peer, run on the daemon's event loop.
//
// Both nodes listen on their own `address` and dial the peer's. Every
// connection first runs the PeerHandshake (Hello, HMAC authentication); only
// an authenticated connection becomes the link, and frames are handed to the
// owner only from then on. When both directions succeed, both nodes keep the
// connection dialled by the lower node (node-id, then name) and close the
// other, so they always agree without negotiating. The lower node dials at
// once; the higher one waits one connect-int before its first attempt, so
// that in the common case only one connection is ever made.
//
// A decode or handshake error closes that connection with a logged reason
// (and the reason is kept for `tandemadm status`); a lost link is redialled
// every connect-int. Buffers are bounded: the decoder by the frame limits,
// the send queue by max_send_queue_bytes (a peer that stops reading is
// disconnected rather than buffered without end).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/peer_handshake.h"
#include "daemon/event_loop.h"
#include "net/frame.h"

namespace tandem::net {

struct SocketAddress {
  bool ipv6 = false;
  std::string host;  // numeric
  uint16_t port = 0;
  std::string to_string() const;  // "127.0.0.1:7789", "[::1]:7789"
};

struct PeerLinkConfig {
  core::HandshakeConfig handshake;  // resource, node names/ids, secret, alg
  uint32_t peer_node_id = 0;
  SocketAddress listen;                                // this host's address
  SocketAddress peer;                                  // the peer's address
  std::chrono::milliseconds connect_interval{10000};   // connect-int
  std::chrono::milliseconds handshake_timeout{10000};  // per connection attempt
  uint64_t sndbuf_bytes = 0;                           // 0: kernel default
  uint64_t rcvbuf_bytes = 0;
  size_t max_send_queue_bytes = 512u << 20;
};

// True when this node is the "lower" one whose dialled connection is kept.
bool local_dials_preferred(const PeerLinkConfig& config);

struct LinkEstablished {
  uint32_t protocol = 0;
  uint64_t features = 0;
  uint32_t peer_node_id = 0;
  bool dialled_by_us = false;
  std::string remote;  // peer's socket address
};

class PeerLink {
 public:
  enum class State {
    kStandAlone,  // not started, or stopped
    kConnecting,  // listening / dialling / handshaking
    kConnected,   // an authenticated connection is the link
  };

  struct Callbacks {
    std::function<void(const LinkEstablished&)> established;
    std::function<void(Frame&&)> frame;  // only while connected
    // The established link ended (reason names the peer and the cause).
    std::function<void(const std::string& reason)> lost;
  };

  PeerLink(daemon::EventLoop& loop, PeerLinkConfig config, Callbacks callbacks);
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Listens and starts dialling. Fails (and stays StandAlone) when the
  // listening address cannot be bound.
  Result<void> start();
  // Closes every connection and the listener; `lost` is called when an
  // established link is closed this way.
  void stop(const std::string& reason);

  // Closes the established connection (if any) and keeps listening and
  // dialling; `lost` is called. Used when the replication core closes a
  // connection it wants re-established.
  void drop_connection(const std::string& reason);

  State state() const;
  bool connected() const { return state() == State::kConnected; }

  // Queues one frame on the established link. Fails when not connected, when
  // the frame breaks the frame limits, or when the send queue is over its
  // bound (the link is then closed: the peer is not reading).
  Result<void> send(FrameType type, uint16_t flags, std::span<const std::byte> message,
                    std::span<const std::byte> payload = {});
  size_t send_queue_bytes() const;

  // Why the last attempt failed or the last link ended; empty if none.
  const std::string& last_error() const { return last_error_; }
  const PeerLinkConfig& config() const { return config_; }

 private:
  struct Connection;

  void on_accept();
  // The accepted connection comes from the peer's configured address.
  bool from_peer_address(int fd) const;
  void dial();
  void schedule_dial(std::chrono::milliseconds delay);
  void on_connection_event(uint64_t id, uint32_t revents);
  void on_connect_finished(Connection& c);
  void begin_handshake(Connection& c);
  void handle_frames(Connection& c);
  void on_handshake_done(Connection& c);
  bool flush(Connection& c);
  static size_t send_gather(int fd, std::span<const std::byte> head,
                            std::span<const std::byte> payload);
  void update_events(Connection& c);
  void queue_frames(Connection& c, const std::vector<core::OutgoingFrame>& frames);
  // Closes one connection; `reason` is logged and remembered.
  void drop(uint64_t id, const std::string& reason, int priority);
  void after_loss();
  std::string who() const;  // "resource r0 peer b" for log lines

  daemon::EventLoop& loop_;
  PeerLinkConfig config_;
  Callbacks callbacks_;
  bool running_ = false;
  int listen_fd_ = -1;
  daemon::EventLoop::WatchId listen_watch_ = 0;
  daemon::EventLoop::TimerId dial_timer_ = 0;
  uint64_t next_conn_ = 1;
  std::vector<std::unique_ptr<Connection>> conns_;
  uint64_t active_ = 0;  // id of the established connection, 0: none
  std::string last_error_;
  std::vector<std::byte> send_head_;  // header and message of a payload frame
};

const char* to_string(PeerLink::State state);

}  // namespace tandem::net
