// tcp_loopback_bench: the physical limits of the loopback network that two
// tandem nodes on one machine replicate over, measured the way the peer
// link uses TCP (TCP_NODELAY, blocking sends of whole messages).
//
//   tcp_loopback_bench [--seconds S] [--message BYTES] [--chunk BYTES]
//
// Prints one "name value" line per figure, for scripts:
//   tcp_rtt_p50_us, tcp_rtt_p99_us, tcp_rtt_count  small message ping-pong
//   tcp_throughput_mbs                              bulk one-way, MB/s (1e6 B)
// The bulk figure counts the time until the receiver has read everything
// and closed, so data still sitting in socket buffers is not counted as sent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tcp_loopback_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void set_nodelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) die("TCP_NODELAY");
}

// Listens on 127.0.0.1 with a kernel-chosen port; returns the fd and port.
int listen_loopback(uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) die("bind 127.0.0.1:0");
  if (listen(fd, 4) != 0) die("listen");
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");
  *port = ntohs(addr.sin_port);
  return fd;
}

int connect_loopback(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    die("connect 127.0.0.1");
  }
  set_nodelay(fd);
  return fd;
}

int accept_one(int listener) {
  const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) die("accept");
  set_nodelay(fd);
  return fd;
}

// Reads exactly len bytes; false on EOF before the first byte.
bool read_full(int fd, char* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = recv(fd, buf + done, len - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("recv");
    if (n == 0) {
      if (done == 0) return false;
      errno = EPIPE;
      die("recv: connection closed mid-message");
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

void write_full(int fd, const char* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("send");
    done += static_cast<size_t>(n);
  }
}

double percentile_us(std::vector<double>& samples, double p) {
  if (samples.empty()) return 0;
  const auto idx = static_cast<size_t>(p / 100.0 * static_cast<double>(samples.size() - 1));
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(idx),
                   samples.end());
  return samples[idx];
}

void measure_round_trip(double seconds, size_t message) {
  uint16_t port = 0;
  const int listener = listen_loopback(&port);
  std::thread echo([listener, message] {
    const int fd = accept_one(listener);
    std::vector<char> buf(message);
    while (read_full(fd, buf.data(), message)) write_full(fd, buf.data(), message);
    close(fd);
  });
  const int fd = connect_loopback(port);
  std::vector<char> buf(message, 'p');
  std::vector<double> rtt_us;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (auto now = Clock::now(); now < end;) {
    write_full(fd, buf.data(), message);
    read_full(fd, buf.data(), message);
    const auto after = Clock::now();
    rtt_us.push_back(std::chrono::duration<double, std::micro>(after - now).count());
    now = after;
  }
  close(fd);
  echo.join();
  close(listener);
  std::printf("tcp_rtt_count %zu\n", rtt_us.size());
  std::printf("tcp_rtt_p50_us %.1f\n", percentile_us(rtt_us, 50));
  std::printf("tcp_rtt_p99_us %.1f\n", percentile_us(rtt_us, 99));
}

void measure_throughput(double seconds, size_t chunk) {
  uint16_t port = 0;
  const int listener = listen_loopback(&port);
  std::thread sink([listener, chunk] {
    const int fd = accept_one(listener);
    std::vector<char> buf(chunk);
    for (;;) {
      const ssize_t n = recv(fd, buf.data(), chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) die("recv");
      if (n == 0) break;
    }
    close(fd);  // tells the sender that everything was read
  });
  const int fd = connect_loopback(port);
  std::vector<char> buf(chunk, 'b');
  uint64_t sent = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    write_full(fd, buf.data(), chunk);
    sent += chunk;
  }
  if (shutdown(fd, SHUT_WR) != 0) die("shutdown");
  char byte = 0;
  while (recv(fd, &byte, 1, 0) > 0) {
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  close(fd);
  sink.join();
  close(listener);
  std::printf("tcp_throughput_mbs %.1f\n", static_cast<double>(sent) / elapsed / 1e6);
}

double parse_number(const char* arg, const char* flag) {
  char* end = nullptr;
  const double v = std::strtod(arg, &end);
  if (end == arg || *end != '\0' || !(v > 0)) {
    std::fprintf(stderr, "tcp_loopback_bench: %s needs a positive number, got '%s'\n", flag, arg);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  size_t message = 64;
  size_t chunk = 1 << 20;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: tcp_loopback_bench [--seconds S] [--message B] [--chunk B]\n");
      return 2;
    }
    const char* value = argv[++i];
    if (flag == "--seconds") {
      seconds = parse_number(value, "--seconds");
    } else if (flag == "--message") {
      message = static_cast<size_t>(parse_number(value, "--message"));
    } else if (flag == "--chunk") {
      chunk = static_cast<size_t>(parse_number(value, "--chunk"));
    } else {
      std::fprintf(stderr, "tcp_loopback_bench: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  measure_round_trip(seconds, message);
  measure_throughput(seconds, chunk);
  return 0;
}
