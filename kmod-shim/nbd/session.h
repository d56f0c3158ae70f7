// NbdSession: the server side of one NBD connection as a sans-I/O state
// machine. It consumes the bytes a client sent, produces the bytes to send
// back, and turns transmission requests into BlockRequests; the caller runs
// those against the volume and reports each completion, in any order. The
// session never touches a socket, a clock or a thread.
//
// Handshake: fixed newstyle with NBD_OPT_EXPORT_NAME, NBD_OPT_GO,
// NBD_OPT_INFO, NBD_OPT_LIST, NBD_OPT_ABORT and NBD_OPT_STRUCTURED_REPLY;
// every other option gets NBD_REP_ERR_UNSUP. Transmission: read, write,
// flush, trim and write-zeroes with FUA. With structured replies a read is
// answered by one data chunk and an error by an error chunk with a message;
// without them every reply is a simple reply. Every field read from the wire is bounded; a
// malformed message closes the session with a reason (close_reason()) and a log line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nbd/block_volume.h"

namespace tandem::nbd {

// What a client may select: one volume under one name.
struct ExportInfo {
  std::string name;  // "" is the default export
  std::string description;
  uint64_t size = 0;
  bool read_only = false;
  bool can_multi_conn = false;
  BlockLimits limits;
};

struct SessionLimits {
  // While this many requests or bytes are in flight the session stops
  // parsing input (wants_input() turns false): a client cannot make the
  // server buffer without bound.
  size_t max_inflight_requests = 64;
  uint64_t max_inflight_bytes = 128u << 20;
};

class NbdSession {
 public:
  enum class Phase { kHandshake, kTransmission, kDraining, kClosed };

  // `exports` must not be empty; an empty name selects exports[0] when no
  // export is literally called "". `peer` names the client in log lines.
  NbdSession(std::vector<ExportInfo> exports, std::string peer, SessionLimits limits = {});

  // Bytes received from the client. Bytes past what the session can parse
  // now are buffered; a caller honouring wants_input() keeps that small.
  void receive(std::span<const std::byte> bytes);
  // For reading from the socket straight into the session (what receive()
  // copies): prepare() returns at most `max` writable bytes (fewer while a
  // write's payload is being received: only what it still lacks, so that
  // the payload lands in the request's own buffer), the caller fills some
  // and commit()s how many. The space is valid until the next call.
  std::span<std::byte> prepare(size_t max);
  void commit(size_t n);
  // The client closed its side.
  void peer_closed();
  // The runtime gives up on the connection (socket error, server stopping):
  // closes without sending anything more.
  void shutdown(std::string reason);

  // For a client whose handshake happened elsewhere: the kernel nbd driver
  // is handed a socket already in the transmission phase. Drops the
  // greeting and serves exports[index] with simple replies. Only valid
  // before any input; an index out of range closes the session.
  void skip_handshake(size_t index);

  // Next request to run against the selected export's volume.
  std::optional<BlockRequest> next_request();
  // Result of a request from next_request(): 0 or a positive errno. For a
  // successful read, request.data holds the bytes.
  void complete(BlockRequest request, int error);

  // Encoded bytes to send, in order. Large read data arrives as its own
  // buffer so that it is never copied.
  std::vector<std::vector<std::byte>> take_output();
  bool has_output() const { return !output_.empty(); }

  Phase phase() const { return phase_; }
  // True when the caller should read more bytes from the client.
  bool wants_input() const;
  // Nothing more will happen: send remaining output, then close the socket
  // (after a protocol violation there is no remaining output).
  bool closed() const { return phase_ == Phase::kClosed; }
  const std::string& close_reason() const { return close_reason_; }
  // Requests handed out by next_request() and not yet completed.
  size_t inflight() const { return inflight_.size() - ready_.size(); }
  // Index into the exports after NBD_OPT_GO / NBD_OPT_EXPORT_NAME.
  std::optional<size_t> export_index() const { return export_index_; }

 private:
  enum class Input { kClientFlags, kOptionHeader, kOptionData, kRequestHeader, kWritePayload };

  struct RequestHeader {
    uint16_t flags = 0;
    uint16_t type = 0;
    uint64_t cookie = 0;
    uint64_t offset = 0;
    uint32_t length = 0;
  };

  // Input parsing.
  void pump();
  bool paused() const;
  size_t buffered() const { return in_used_ - in_pos_; }
  std::span<const std::byte> peek(size_t n) const;
  void consume(size_t n);

  // Handshake (session_handshake.cc).
  void send_greeting();
  void on_client_flags(std::span<const std::byte> bytes);
  void on_option_header(std::span<const std::byte> bytes);
  void on_option(uint32_t option, std::span<const std::byte> data);
  void on_export_name(std::span<const std::byte> data);
  void on_info_or_go(uint32_t option, std::span<const std::byte> data);
  void on_list(std::span<const std::byte> data);
  void send_option_reply(uint32_t option, uint32_t type, std::span<const std::byte> data);
  void send_option_error(uint32_t option, uint32_t type, const std::string& message);
  std::optional<size_t> find_export(std::string_view name) const;
  uint16_t transmission_flags(const ExportInfo& e) const;
  void enter_transmission(size_t index);

  // Transmission (session_transmission.cc).
  void on_request_header(std::span<const std::byte> bytes);
  void on_request(const RequestHeader& h, IoBuffer payload);
  struct Refusal {
    uint32_t error;       // wire error value
    std::string message;  // for the client, when structured replies allow one
  };
  // Why a request may not go to the volume, or nothing when it may.
  std::optional<Refusal> check_request(const RequestHeader& h, BlockOp op) const;
  // Simple reply, or with structured replies a single chunk: data for a
  // read, an error with its message, or a plain success.
  void send_reply(uint64_t cookie, bool is_read, uint64_t offset, uint32_t error,
                  std::string_view message, std::vector<std::byte> data = {});
  void maybe_finish_draining();

  void close(std::string reason, bool violation);
  void emit(std::vector<std::byte> bytes);

  std::vector<ExportInfo> exports_;
  std::string peer_;
  SessionLimits limits_;

  Phase phase_ = Phase::kHandshake;
  Input input_ = Input::kClientFlags;
  std::string close_reason_;

  IoBuffer in_;  // not zero-filled when a read grows it
  size_t in_pos_ = 0;
  size_t in_used_ = 0;  // in_[0, in_used_) is received; the rest is prepared space

  bool no_zeroes_ = false;
  bool structured_ = false;  // NBD_OPT_STRUCTURED_REPLY was acknowledged
  uint32_t options_seen_ = 0;
  uint32_t pending_option_ = 0;
  uint32_t pending_option_length_ = 0;

  std::optional<size_t> export_index_;
  RequestHeader pending_header_;
  IoBuffer payload_;               // write data being received, sized when the header came
  size_t payload_have_ = 0;        // bytes of payload_ received
  bool prepared_payload_ = false;  // the last prepare() handed out payload space

  std::deque<BlockRequest> ready_;
  struct Inflight {
    uint64_t cookie;
    uint64_t offset;
    BlockOp op;
    uint32_t length;
  };
  std::unordered_map<uint64_t, Inflight> inflight_;
  uint64_t inflight_bytes_ = 0;
  uint64_t next_id_ = 1;
  uint64_t refused_writes_ = 0;

  std::vector<std::vector<std::byte>> output_;
};

}  // namespace tandem::nbd
