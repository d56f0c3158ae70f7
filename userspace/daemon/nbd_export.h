// A resource's NBD export at RUN_DIR/RESOURCE.nbd and optionally on TCP,
// driven by the daemon's event loop: one NbdSession (kmod-shim/nbd,
// sans-I/O) per client connection, whichever socket it came in on. Requests go to the owner through
// `submit`; the owner answers each with complete(), in any order. Sessions of clients that went
// away simply drop late completions.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "daemon/event_loop.h"
#include "nbd/listen_socket.h"
#include "nbd/session.h"

namespace tandem::daemon {

class NbdExport {
 public:
  using Submit = std::function<void(uint64_t connection, nbd::BlockRequest&& request)>;

  // Listens on the unix socket `path` (a stale socket file is replaced).
  static Result<std::unique_ptr<NbdExport>> start(EventLoop& loop, const std::string& path,
                                                  nbd::ExportInfo info, std::string who,
                                                  Submit submit);
  ~NbdExport();
  NbdExport(const NbdExport&) = delete;
  NbdExport& operator=(const NbdExport&) = delete;

  // Also accepts clients on TCP; returns the bound port (useful with 0).
  Result<uint16_t> listen_tcp(const nbd::TcpAddress& address);
  // Serves an already connected socket (takes ownership of `fd`). With
  // `transmission` the session skips the handshake: the kernel nbd driver
  // speaks only the transmission phase on the socket it is handed.
  // Returns the connection id, 0 when the socket could not be used.
  uint64_t serve_connected(int fd, const std::string& label, bool transmission);
  bool has_connection(uint64_t id) const { return conns_.count(id) != 0; }

  void complete(uint64_t connection, nbd::BlockRequest&& request, int error);
  const std::string& path() const { return path_; }
  // "tcp:127.0.0.1:10809", or "" without a TCP listener.
  const std::string& tcp_label() const { return tcp_label_; }
  size_t connection_count() const { return conns_.size(); }

 private:
  struct Conn {
    uint64_t id = 0;
    int fd = -1;
    EventLoop::WatchId watch = 0;
    std::unique_ptr<nbd::NbdSession> session;
    std::deque<std::vector<std::byte>> out;
    size_t out_pos = 0;  // bytes of out.front() already sent
    bool eof = false;
  };

  NbdExport(EventLoop& loop, std::string path, nbd::ExportInfo info, std::string who, Submit s)
      : loop_(loop),
        path_(std::move(path)),
        info_(std::move(info)),
        who_(std::move(who)),
        submit_(std::move(s)) {}
  struct Listener {
    int fd = -1;
    EventLoop::WatchId watch = 0;
    std::string label;  // "unix:PATH" or "tcp:HOST:PORT"
    bool tcp = false;
  };

  void add_listener(int fd, std::string label, bool tcp);
  void on_accept(const Listener& listener);
  uint64_t add_connection(int fd, const std::string& label, bool transmission);
  void on_event(uint64_t id, uint32_t revents);
  // Moves requests and output out of the session; false when the
  // connection is finished and was dropped.
  bool pump(Conn& c);
  void drop(uint64_t id, const std::string& why);

  EventLoop& loop_;
  std::string path_;
  nbd::ExportInfo info_;
  std::string who_;
  Submit submit_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::string tcp_label_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
};

}  // namespace tandem::daemon
