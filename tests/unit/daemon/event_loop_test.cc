#include "daemon/event_loop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace tandem::daemon {
namespace {

using namespace std::chrono_literals;

// Every behaviour holds for both ways of setting up the ring.
class EventLoopTest : public ::testing::TestWithParam<EventLoop::Threading> {
 protected:
  std::unique_ptr<EventLoop> make_loop() {
    auto loop = EventLoop::create(EventLoop::kDefaultRingEntries, GetParam());
    EXPECT_TRUE(loop.ok()) << (loop.ok() ? "" : loop.error().message);
    return std::move(loop).value();
  }
};

INSTANTIATE_TEST_SUITE_P(Threading, EventLoopTest,
                         ::testing::Values(EventLoop::Threading::kAnyThread,
                                           EventLoop::Threading::kCreatingThreadOnly),
                         [](const ::testing::TestParamInfo<EventLoop::Threading>& p) {
                           return p.param == EventLoop::Threading::kAnyThread
                                      ? std::string("AnyThread")
                                      : std::string("CreatingThreadOnly");
                         });

// Runs rounds until `done` or 2 s passed.
template <typename Pred>
bool run_until(EventLoop& loop, Pred done) {
  const auto deadline = Clock::now() + 2s;
  while (!done() && Clock::now() < deadline) {
    EXPECT_TRUE(loop.run_once(50ms).ok());
  }
  return done();
}

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0); }
  ~SocketPair() {
    close(fd[0]);
    close(fd[1]);
  }
};

TEST_P(EventLoopTest, ReadinessIsReportedAndReArmedUntilDrained) {
  auto loop = make_loop();
  SocketPair sp;
  int calls = 0;
  std::string got;
  loop->watch(sp.fd[0], POLLIN, [&](uint32_t revents) {
    EXPECT_NE(revents & POLLIN, 0u);
    ++calls;
    char c = 0;
    // Read one byte per callback: the watch must fire again for the rest.
    if (read(sp.fd[0], &c, 1) == 1) got.push_back(c);
  });
  ASSERT_EQ(write(sp.fd[1], "abc", 3), 3);
  EXPECT_TRUE(run_until(*loop, [&] { return got == "abc"; }));
  EXPECT_EQ(calls, 3);
  // Nothing more to read: no further callbacks.
  ASSERT_TRUE(loop->run_once(50ms).ok());
  EXPECT_EQ(calls, 3);
}

TEST_P(EventLoopTest, UnwatchStopsCallbacksEvenFromInsideTheCallback) {
  auto loop = make_loop();
  SocketPair sp;
  int calls = 0;
  EventLoop::WatchId id = 0;
  id = loop->watch(sp.fd[0], POLLIN, [&](uint32_t) {
    ++calls;
    loop->unwatch(id);
  });
  ASSERT_EQ(write(sp.fd[1], "x", 1), 1);
  EXPECT_TRUE(run_until(*loop, [&] { return calls == 1; }));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(loop->run_once(20ms).ok());
  EXPECT_EQ(calls, 1);                 // the byte is still unread, yet no callback
  EXPECT_EQ(loop->watch_count(), 1u);  // only the internal wake-up eventfd
}

TEST_P(EventLoopTest, SetEventsSwitchesBetweenReadAndWrite) {
  auto loop = make_loop();
  SocketPair sp;
  int writable = 0;
  int readable = 0;
  EventLoop::WatchId id = loop->watch(sp.fd[0], POLLOUT, [&](uint32_t revents) {
    if (revents & POLLOUT) ++writable;
    if (revents & POLLIN) ++readable;
    loop->set_events(id, 0);  // quiet until told otherwise
  });
  EXPECT_TRUE(run_until(*loop, [&] { return writable == 1; }));
  ASSERT_EQ(write(sp.fd[1], "x", 1), 1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(loop->run_once(20ms).ok());
  EXPECT_EQ(readable, 0);
  loop->set_events(id, POLLIN);
  EXPECT_TRUE(run_until(*loop, [&] { return readable == 1; }));
}

TEST_P(EventLoopTest, TimersFireInDeadlineOrderAndCanBeCancelled) {
  auto loop = make_loop();
  std::vector<int> order;
  // Before the timers are armed: their deadlines count from add_timer().
  const auto start = Clock::now();
  loop->add_timer(60ms, [&] { order.push_back(3); });
  loop->add_timer(10ms, [&] { order.push_back(1); });
  const auto cancelled = loop->add_timer(30ms, [&] { order.push_back(99); });
  loop->add_timer(40ms, [&] { order.push_back(2); });
  loop->cancel_timer(cancelled);
  EXPECT_TRUE(run_until(*loop, [&] { return order.size() == 3; }));
  EXPECT_GE(Clock::now() - start, 60ms);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(loop->timer_count(), 0u);
}

TEST_P(EventLoopTest, WaitIsCutShortByTheNextTimer) {
  auto loop = make_loop();
  bool fired = false;
  loop->add_timer(20ms, [&] { fired = true; });
  const auto start = Clock::now();
  // One round asked to wait 5 s must return once the timer is due.
  while (!fired) ASSERT_TRUE(loop->run_once(5000ms).ok());
  EXPECT_LT(Clock::now() - start, 1000ms);
}

TEST_P(EventLoopTest, PostFromAnotherThreadWakesTheLoop) {
  auto loop = make_loop();
  bool ran = false;
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    loop->post([&] {
      ran = true;
      loop->stop();
    });
  });
  const auto start = Clock::now();
  ASSERT_TRUE(loop->run().ok());
  t.join();
  EXPECT_TRUE(ran);
  EXPECT_LT(Clock::now() - start, 900ms);  // run() waits up to 1 s per round otherwise
}

TEST_P(EventLoopTest, HangupIsReported) {
  auto loop = make_loop();
  SocketPair sp;
  uint32_t seen = 0;
  EventLoop::WatchId id = loop->watch(sp.fd[0], POLLIN, [&](uint32_t revents) {
    seen = revents;
    loop->unwatch(id);
  });
  shutdown(sp.fd[1], SHUT_RDWR);
  EXPECT_TRUE(run_until(*loop, [&] { return seen != 0; }));
  EXPECT_NE(seen & (POLLIN | POLLHUP), 0u);
}

// Busy polling: a round asked to poll finds an answer that arrives within
// the window without sleeping; a round not asked to poll sleeps as before.
// (The window is generous so that a loaded machine still delivers the byte
// within it; only whether the answer was found by polling is asserted.)
TEST_P(EventLoopTest, BusyPollFindsTheAnswerOnlyWhenAsked) {
  auto loop = make_loop();
  loop->set_busy_poll(std::chrono::microseconds(2'000'000));
  SocketPair sp;
  int calls = 0;
  loop->watch(sp.fd[0], POLLIN, [&](uint32_t) {
    char c = 0;
    while (read(sp.fd[0], &c, 1) == 1) ++calls;
  });
  ASSERT_TRUE(loop->run_once(0ms).ok());  // the watch is armed

  for (const bool ask : {true, false}) {
    const int before = calls;
    const uint64_t polled = loop->polled_rounds();
    if (ask) loop->poll_next_wait();
    std::thread writer([&] {
      std::this_thread::sleep_for(5ms);
      EXPECT_EQ(write(sp.fd[1], "x", 1), 1);
    });
    while (calls == before) ASSERT_TRUE(loop->run_once(5000ms).ok());
    writer.join();
    EXPECT_EQ(loop->polled_rounds(), polled + (ask ? 1 : 0)) << (ask ? "asked" : "not asked");
  }
}

// unwatch() lets go of the file at once: a listener closed right after it
// frees its port, so that the same callback may listen on it again (a
// reconnect with new net options does).
TEST_P(EventLoopTest, AListenerClosedAfterUnwatchFreesItsPortAtOnce) {
  auto loop = make_loop();
  const auto listener = [] {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    return fd;
  };
  int fd = listener();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const EventLoop::WatchId id = loop->watch(fd, POLLIN, [](uint32_t) {});
  ASSERT_TRUE(loop->run_once(0ms).ok());  // the poll is armed in the kernel
  bool rebound = false;
  loop->add_timer(0ms, [&] {
    loop->unwatch(id);
    close(fd);
    fd = listener();
    rebound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(fd, 4) == 0;
  });
  ASSERT_TRUE(run_until(*loop, [&] { return loop->timer_count() == 0; }));
  EXPECT_TRUE(rebound) << "port " << ntohs(addr.sin_port) << ": " << std::strerror(errno);
  close(fd);
}

// File I/O completes through the loop's ring in either mode: a write, then
// a read of the same bytes, each callback run by the round that finds it.
TEST_P(EventLoopTest, FileWriteThenReadCompleteThroughTheLoop) {
  auto loop = make_loop();
  char path[] = "/tmp/tandem-event-loop-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  char out[4096];
  for (size_t i = 0; i < sizeof out; ++i) out[i] = static_cast<char>(i * 7);
  int32_t wrote = 0;
  loop->submit_io(EventLoop::FileOp::kWrite, fd, out, sizeof out, 8192, false,
                  [&](int32_t r) { wrote = r; });
  EXPECT_EQ(loop->io_in_flight(), 1u);
  ASSERT_TRUE(run_until(*loop, [&] { return wrote != 0; }));
  EXPECT_EQ(wrote, static_cast<int32_t>(sizeof out));
  char in[4096] = {};
  int32_t got = 0;
  loop->submit_io(EventLoop::FileOp::kRead, fd, in, sizeof in, 8192, false,
                  [&](int32_t r) { got = r; });
  ASSERT_TRUE(run_until(*loop, [&] { return got != 0; }));
  EXPECT_EQ(got, static_cast<int32_t>(sizeof in));
  EXPECT_EQ(std::memcmp(in, out, sizeof in), 0);
  EXPECT_EQ(loop->io_in_flight(), 0u);
  close(fd);
}

// A single-thread loop defers completion work wherever the kernel can
// (Linux 6.1 and later); a loop for any thread never does.
TEST_P(EventLoopTest, DefersCompletionWorkOnlyWhenSingleThreaded) {
  auto loop = make_loop();
  if (GetParam() == EventLoop::Threading::kAnyThread) {
    EXPECT_FALSE(loop->defers_task_run());
    return;
  }
  utsname u{};
  ASSERT_EQ(uname(&u), 0);
  int major = 0;
  int minor = 0;
  ASSERT_EQ(std::sscanf(u.release, "%d.%d", &major, &minor), 2) << u.release;
  if (major < 6 || (major == 6 && minor < 1)) {
    GTEST_SKIP() << "kernel " << u.release << " predates IORING_SETUP_DEFER_TASKRUN (6.1)";
  }
  EXPECT_TRUE(loop->defers_task_run()) << "kernel " << u.release;
}

}  // namespace
}  // namespace tandem::daemon
