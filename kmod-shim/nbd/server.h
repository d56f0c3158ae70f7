// NbdServer: accepts NBD clients on unix and TCP sockets and runs each
// connection on its own thread. Thin by design: the protocol is NbdSession's,
// the data path is the BlockVolume's. The daemon will later drive sessions
// from its own event loop instead.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "nbd/connection.h"
#include "nbd/listen_socket.h"
#include "nbd/session.h"

namespace tandem::nbd {

class NbdServer {
 public:
  explicit NbdServer(std::vector<ServedExport> exports, SessionLimits limits = {});
  // Stops and joins every connection, removes the unix sockets it created.
  ~NbdServer();
  NbdServer(const NbdServer&) = delete;
  NbdServer& operator=(const NbdServer&) = delete;

  Result<void> listen_unix(const std::string& path);
  // Returns the bound port (useful with port 0).
  Result<uint16_t> listen_tcp(const TcpAddress& address);

  // Accepts and serves clients until stop().
  void run();
  // Thread-safe and async-signal-safe.
  void stop();

 private:
  struct Listener {
    int fd;
    bool tcp;
    std::string label;  // "unix:PATH" or "tcp:HOST:PORT"
    std::string unix_path;
  };
  struct Worker {
    std::shared_ptr<NbdConnection> connection;
    std::shared_ptr<std::atomic<bool>> finished;
    std::thread thread;
  };

  void accept_from(const Listener& listener);
  void reap_finished();
  void stop_all_connections();

  std::vector<ServedExport> exports_;
  std::vector<ExportInfo> infos_;
  SessionLimits limits_;
  std::vector<Listener> listeners_;
  int stop_fd_ = -1;
  uint64_t accepted_ = 0;
  std::list<Worker> workers_;
};

}  // namespace tandem::nbd
