// NbdConnection: runs one NbdSession over a connected socket. One thread per
// connection polls the socket and an eventfd that volume completions (from
// any thread) use to wake it; replies go out in the order the session
// produced them, while requests complete in any order.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "nbd/block_volume.h"
#include "nbd/session.h"

namespace tandem::nbd {

// A volume under its export name. The volume must outlive the server.
struct ServedExport {
  std::string name;
  std::string description;
  BlockVolume* volume = nullptr;
};

ExportInfo export_info(const ServedExport& e);

class NbdConnection {
 public:
  // Takes ownership of `fd`.
  NbdConnection(int fd, std::string peer, const std::vector<ServedExport>& exports,
                const std::vector<ExportInfo>& infos, SessionLimits limits);
  ~NbdConnection();
  NbdConnection(const NbdConnection&) = delete;
  NbdConnection& operator=(const NbdConnection&) = delete;

  // Serves the connection until it ends, then waits for every request it
  // submitted to complete. Runs on the connection's own thread.
  void run();
  // Asks run() to end soon. Any thread.
  void stop();

 private:
  // Completions arrive on volume threads; this outlives the connection for
  // as long as a completion callback holds it.
  struct CompletionQueue {
    CompletionQueue();
    ~CompletionQueue();
    void push(BlockRequest request, int error);
    std::vector<std::pair<BlockRequest, int>> take();
    void wake();
    std::mutex mu;
    std::vector<std::pair<BlockRequest, int>> done;
    int event_fd = -1;
  };

  void deliver_completions();
  void submit_requests();
  void collect_output();
  bool read_socket();
  bool write_socket();
  void wait_for_inflight();

  int fd_;
  std::string peer_;
  const std::vector<ServedExport>& exports_;
  NbdSession session_;
  std::shared_ptr<CompletionQueue> completions_;
  std::atomic<bool> stop_{false};

  std::deque<std::vector<std::byte>> out_;
  size_t out_offset_ = 0;  // bytes of out_.front() already sent
  uint64_t out_bytes_ = 0;
  std::vector<std::byte> read_buffer_;
};

}  // namespace tandem::nbd
