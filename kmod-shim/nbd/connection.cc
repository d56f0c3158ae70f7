#include "nbd/connection.h"
#include "nbd/protocol.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace tandem::nbd {

namespace {
constexpr size_t kReadChunk = 256 * 1024;
// Replies waiting for a slow client stop further reading at this size.
constexpr uint64_t kMaxPendingOutput = 64u << 20;
constexpr int kMaxIov = 64;
}  // namespace

ExportInfo export_info(const ServedExport& e) {
  ExportInfo info;
  info.name = e.name;
  info.description = e.description;
  info.size = e.volume->size();
  info.read_only = e.volume->read_only();
  info.can_multi_conn = e.volume->flush_covers_all_connections();
  info.limits = e.volume->limits();
  return info;
}

NbdConnection::CompletionQueue::CompletionQueue()
    : event_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

NbdConnection::CompletionQueue::~CompletionQueue() {
  if (event_fd >= 0) ::close(event_fd);
}

void NbdConnection::CompletionQueue::push(BlockRequest request, int error) {
  {
    std::lock_guard lock(mu);
    done.emplace_back(std::move(request), error);
  }
  wake();
}

std::vector<std::pair<BlockRequest, int>> NbdConnection::CompletionQueue::take() {
  std::lock_guard lock(mu);
  return std::exchange(done, {});
}

void NbdConnection::CompletionQueue::wake() {
  const uint64_t one = 1;
  // A full counter already means "wake up"; nothing else can fail here.
  [[maybe_unused]] const ssize_t n = ::write(event_fd, &one, sizeof one);
}

NbdConnection::NbdConnection(int fd, std::string peer, const std::vector<ServedExport>& exports,
                             const std::vector<ExportInfo>& infos, SessionLimits limits)
    : fd_(fd),
      peer_(peer),
      exports_(exports),
      session_(infos, std::move(peer), limits),
      completions_(std::make_shared<CompletionQueue>()),
      read_buffer_(kReadChunk) {}

NbdConnection::~NbdConnection() {
  ::close(fd_);
}

void NbdConnection::stop() {
  stop_ = true;
  completions_->wake();
}

void NbdConnection::deliver_completions() {
  for (auto& [request, error] : completions_->take()) {
    session_.complete(std::move(request), error);
  }
}

void NbdConnection::submit_requests() {
  while (auto request = session_.next_request()) {
    BlockVolume* volume = exports_[*session_.export_index()].volume;
    auto queue = completions_;
    volume->submit(std::move(*request),
                   [queue](BlockRequest done, int error) { queue->push(std::move(done), error); });
  }
}

void NbdConnection::collect_output() {
  for (auto& buffer : session_.take_output()) {
    out_bytes_ += buffer.size();
    out_.push_back(std::move(buffer));
  }
}

bool NbdConnection::read_socket() {
  const ssize_t n = ::recv(fd_, read_buffer_.data(), read_buffer_.size(), 0);
  if (n > 0) {
    session_.receive(std::span<const std::byte>(read_buffer_.data(), static_cast<size_t>(n)));
    return true;
  }
  if (n == 0) {
    session_.peer_closed();
    return true;  // replies may still be owed to a half-closed client
  }
  if (errno == EAGAIN || errno == EINTR) return true;
  session_.shutdown(std::string("receive failed: ") + errno_text(errno));
  return false;
}

bool NbdConnection::write_socket() {
  while (!out_.empty()) {
    iovec iov[kMaxIov];
    int count = 0;
    size_t offset = out_offset_;
    for (auto it = out_.begin(); it != out_.end() && count < kMaxIov; ++it) {
      iov[count].iov_base = it->data() + offset;
      iov[count].iov_len = it->size() - offset;
      offset = 0;
      ++count;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return true;
      session_.shutdown(std::string("send failed: ") + errno_text(errno));
      return false;
    }
    size_t sent = static_cast<size_t>(n);
    out_bytes_ -= sent;
    while (sent > 0) {
      const size_t left = out_.front().size() - out_offset_;
      if (sent < left) {
        out_offset_ += sent;
        sent = 0;
      } else {
        sent -= left;
        out_.pop_front();
        out_offset_ = 0;
      }
    }
  }
  return true;
}

void NbdConnection::run() {
  const int flags = ::fcntl(fd_, F_GETFL);
  ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  bool socket_ok = true;
  for (;;) {
    deliver_completions();
    submit_requests();
    collect_output();
    if (stop_) {
      session_.shutdown("the server is shutting down");
      break;
    }
    if (!socket_ok) break;
    if (session_.closed() && out_.empty()) break;

    pollfd fds[2] = {};
    fds[0].fd = fd_;
    if (!session_.closed() && session_.wants_input() && out_bytes_ < kMaxPendingOutput) {
      fds[0].events |= POLLIN;
    }
    if (!out_.empty()) fds[0].events |= POLLOUT;
    fds[1].fd = completions_->event_fd;
    fds[1].events = POLLIN;
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      session_.shutdown(std::string("poll failed: ") + errno_text(errno));
      break;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t count;
      [[maybe_unused]] const ssize_t n = ::read(completions_->event_fd, &count, sizeof count);
    }
    if (fds[0].revents & POLLIN) socket_ok = read_socket();
    if (socket_ok && (fds[0].revents & POLLOUT)) socket_ok = write_socket();
    if (socket_ok && (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) &&
        !(fds[0].revents & POLLIN)) {
      session_.peer_closed();
      socket_ok = false;
    }
  }
  ::shutdown(fd_, SHUT_RDWR);
  wait_for_inflight();
}

void NbdConnection::wait_for_inflight() {
  // Completion callbacks hold the queue, not this object, but the session
  // must see every result before it goes away.
  while (session_.inflight() > 0) {
    pollfd pfd{completions_->event_fd, POLLIN, 0};
    ::poll(&pfd, 1, -1);
    uint64_t count;
    [[maybe_unused]] const ssize_t n = ::read(completions_->event_fd, &count, sizeof count);
    deliver_completions();
  }
}

}  // namespace tandem::nbd
