// tandemd's control socket: a unix stream socket at RUN_DIR/tandemd.sock
// (mode 0660) served from the event loop. Only root, the daemon's own user
// and members of the configured control group may use it (checked with
// SO_PEERCRED / SO_PEERGROUPS on every connection); anyone else gets one
// reply saying why, then the connection closes.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "control.pb.h"
#include "daemon/control_framing.h"
#include "daemon/event_loop.h"

namespace tandem::daemon {

struct ClientCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct ControlAccess {
  std::optional<gid_t> group;  // members may use the socket; none: root only
  std::string group_name;      // for messages
};

class ControlServer {
 public:
  using Handler =
      std::function<proto::ControlReply(const proto::ControlRequest&, const ClientCredentials&)>;

  // Binds `path` (refusing when another daemon answers there, replacing a
  // stale socket file otherwise) and starts accepting on `loop`.
  static Result<std::unique_ptr<ControlServer>> start(EventLoop& loop, const std::string& path,
                                                      ControlAccess access, Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& path() const { return path_; }
  size_t client_count() const { return clients_.size(); }

 private:
  struct Client {
    int fd = -1;
    EventLoop::WatchId watch = 0;
    ClientCredentials creds;
    bool allowed = false;
    bool closing = false;  // close once the output is sent
    ControlFrameReader reader;
    std::vector<std::byte> out;
    size_t out_sent = 0;
  };

  ControlServer(EventLoop& loop, std::string path, ControlAccess access, Handler handler)
      : loop_(loop),
        path_(std::move(path)),
        access_(std::move(access)),
        handler_(std::move(handler)) {}
  void on_accept();
  void on_client(int id, uint32_t revents);
  bool read_from(Client& c);
  void handle_messages(Client& c);
  bool flush(Client& c);
  void update_events(Client& c);
  void drop(int id);
  std::optional<std::string> access_denied(const ClientCredentials& creds, int fd) const;
  void queue_reply(Client& c, const proto::ControlReply& reply);

  EventLoop& loop_;
  std::string path_;
  ControlAccess access_;
  Handler handler_;
  int listen_fd_ = -1;
  EventLoop::WatchId listen_watch_ = 0;
  int next_client_ = 1;
  std::unordered_map<int, Client> clients_;
};

}  // namespace tandem::daemon
