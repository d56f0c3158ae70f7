#include "daemon/nbd_export.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "nbd/listen_socket.h"

namespace tandem::daemon {

namespace {
constexpr size_t kReadChunk = 256 * 1024;

Result<void> make_non_blocking(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    return make_error(std::string("cannot make the socket non-blocking: ") + std::strerror(errno));
  }
  return {};
}
}  // namespace

Result<std::unique_ptr<NbdExport>> NbdExport::start(EventLoop& loop, const std::string& path,
                                                    nbd::ExportInfo info, std::string who,
                                                    Submit submit) {
  auto fd = nbd::listen_unix(path);
  if (!fd) {
    return make_error(who + ": cannot export over NBD at " + path + ": " + fd.error().message);
  }
  // The loop accepts until EAGAIN: the listener must not block.
  if (auto r = make_non_blocking(*fd); !r) {
    close(*fd);
    unlink(path.c_str());
    return make_error(who + ": NBD socket " + path + ": " + r.error().message);
  }
  std::unique_ptr<NbdExport> e(
      new NbdExport(loop, path, std::move(info), std::move(who), std::move(submit)));
  e->add_listener(*fd, "unix:" + path, false);
  TLOG(LOG_INFO, "%s: exported over NBD at %s (%llu bytes)", e->who_.c_str(), path.c_str(),
       static_cast<unsigned long long>(e->info_.size));
  return e;
}

Result<uint16_t> NbdExport::listen_tcp(const nbd::TcpAddress& address) {
  const std::string shown =
      (address.host.empty() ? "*" : address.host) + ":" + std::to_string(address.port);
  auto fd = nbd::listen_tcp(address);
  if (!fd) {
    return make_error(who_ + ": cannot export over NBD on TCP " + shown + ": " +
                      fd.error().message + " (choose another port in the device line)");
  }
  if (auto r = make_non_blocking(*fd); !r) {
    close(*fd);
    return make_error(who_ + ": NBD TCP " + shown + ": " + r.error().message);
  }
  const uint16_t port = nbd::bound_port(*fd);
  const std::string host = address.host.find(':') != std::string::npos
                               ? "[" + address.host + "]"
                               : (address.host.empty() ? "*" : address.host);
  tcp_label_ = "tcp:" + host + ":" + std::to_string(port);
  add_listener(*fd, tcp_label_, true);
  TLOG(LOG_INFO, "%s: exported over NBD on %s", who_.c_str(), tcp_label_.c_str());
  return port;
}

void NbdExport::add_listener(int fd, std::string label, bool tcp) {
  auto l = std::make_unique<Listener>();
  l->fd = fd;
  l->label = std::move(label);
  l->tcp = tcp;
  const Listener* raw = l.get();
  l->watch = loop_.watch(fd, POLLIN, [this, raw](uint32_t) { on_accept(*raw); });
  listeners_.push_back(std::move(l));
}

NbdExport::~NbdExport() {
  while (!conns_.empty()) drop(conns_.begin()->first, "");
  for (auto& l : listeners_) {
    loop_.unwatch(l->watch);
    close(l->fd);
    if (!l->tcp) unlink(path_.c_str());
  }
}

void NbdExport::on_accept(const Listener& listener) {
  while (true) {
    const int fd = accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        TLOG(LOG_WARNING, "%s: NBD accept on %s failed: %s", who_.c_str(), listener.label.c_str(),
             std::strerror(errno));
      }
      return;
    }
    if (listener.tcp) {
      // Replies are small and latency-bound: do not wait to coalesce them.
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    add_connection(fd, listener.label, false);
  }
}

uint64_t NbdExport::serve_connected(int fd, const std::string& label, bool transmission) {
  if (auto r = make_non_blocking(fd); !r) {
    TLOG(LOG_ERR, "%s: %s: %s", who_.c_str(), label.c_str(), r.error().message.c_str());
    close(fd);
    return 0;
  }
  return add_connection(fd, label, transmission);
}

uint64_t NbdExport::add_connection(int fd, const std::string& label, bool transmission) {
  auto c = std::make_unique<Conn>();
  c->id = next_id_++;
  c->fd = fd;
  c->session = std::make_unique<nbd::NbdSession>(
      std::vector<nbd::ExportInfo>{info_},
      who_ + " NBD client " + std::to_string(c->id) + " on " + label);
  if (transmission) c->session->skip_handshake(0);
  const uint64_t id = c->id;
  c->watch = loop_.watch(fd, POLLIN, [this, id](uint32_t ev) { on_event(id, ev); });
  Conn& ref = *c;
  conns_.emplace(id, std::move(c));
  pump(ref);  // the server speaks first (greeting)
  return id;
}

void NbdExport::on_event(uint64_t id, uint32_t revents) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !c.eof && c.session->wants_input()) {
    // Straight into the session: a write's payload lands in the request's
    // own (page-aligned) buffer.
    const std::span<std::byte> space = c.session->prepare(kReadChunk);
    const ssize_t n = recv(c.fd, space.data(), space.size(), 0);
    if (n > 0) {
      c.session->commit(static_cast<size_t>(n));
    } else if (n == 0) {
      c.eof = true;
      c.session->peer_closed();
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      drop(id, std::string("receive failed: ") + std::strerror(errno));
      return;
    }
  } else if ((revents & (POLLHUP | POLLERR)) != 0 && (revents & POLLOUT) == 0 && c.eof) {
    // Nothing to read any more and the socket is gone.
    drop(id, "");
    return;
  }
  pump(c);
}

bool NbdExport::pump(Conn& c) {
  const uint64_t id = c.id;
  while (auto req = c.session->next_request()) {
    submit_(id, std::move(*req));
    if (conns_.find(id) == conns_.end()) return false;
  }
  for (auto& chunk : c.session->take_output()) {
    if (!chunk.empty()) c.out.push_back(std::move(chunk));
  }
  while (!c.out.empty()) {
    auto& front = c.out.front();
    const ssize_t n = send(c.fd, front.data() + c.out_pos, front.size() - c.out_pos, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      drop(id, std::string("send failed: ") + std::strerror(errno));
      return false;
    }
    c.out_pos += static_cast<size_t>(n);
    if (c.out_pos == front.size()) {
      c.out.pop_front();
      c.out_pos = 0;
    }
  }
  const bool finished = c.session->closed() || (c.eof && c.session->inflight() == 0);
  if (finished && c.out.empty()) {
    if (!c.session->close_reason().empty()) {
      TLOG(LOG_INFO, "%s: NBD client %llu: %s", who_.c_str(), static_cast<unsigned long long>(id),
           c.session->close_reason().c_str());
    }
    drop(id, "");
    return false;
  }
  uint32_t events = 0;
  if (!c.eof && c.session->wants_input() && !c.session->closed()) events |= POLLIN;
  if (!c.out.empty()) events |= POLLOUT;
  loop_.set_events(c.watch, events);
  return true;
}

void NbdExport::complete(uint64_t connection, nbd::BlockRequest&& request, int error) {
  auto it = conns_.find(connection);
  if (it == conns_.end()) return;  // the client went away
  it->second->session->complete(std::move(request), error);
  pump(*it->second);
}

void NbdExport::drop(uint64_t id, const std::string& why) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  if (!why.empty()) {
    TLOG(LOG_WARNING, "%s: NBD client %llu: %s", who_.c_str(), static_cast<unsigned long long>(id),
         why.c_str());
  }
  loop_.unwatch(it->second->watch);
  close(it->second->fd);
  conns_.erase(it);
}

}  // namespace tandem::daemon
