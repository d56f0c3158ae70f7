#include "daemon/handler_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

namespace tandem::daemon {
namespace {

using namespace std::chrono_literals;

class HandlerRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
    runner_ = std::make_unique<HandlerRunner>(*loop_);
    char tmpl[] = "/tmp/tandem-handler-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    runner_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs `command` and the loop until it reported (at most 10 s).
  HandlerResult run(const std::string& command, std::chrono::milliseconds timeout = 10s,
                    std::vector<std::pair<std::string, std::string>> env = {}) {
    std::optional<HandlerResult> got;
    runner_->start({command, std::move(env), timeout, "test handler"},
                   [&](const HandlerResult& r) { got = r; });
    const auto deadline = Clock::now() + 10s;
    while (!got && Clock::now() < deadline) {
      EXPECT_TRUE(loop_->run_once(50ms).ok());
    }
    EXPECT_TRUE(got.has_value()) << "handler did not report within 10 s";
    return got.value_or(HandlerResult{});
  }

  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<HandlerRunner> runner_;
  std::string dir_;
};

TEST_F(HandlerRunnerTest, ReportsTheExitCode) {
  for (int code : {0, 1, 3, 4, 5, 6, 7, 255}) {
    HandlerResult r = run("exit " + std::to_string(code));
    EXPECT_TRUE(r.exited) << r.failure;
    EXPECT_EQ(r.exit_code, code);
  }
  EXPECT_EQ(runner_->running(), 0u);
}

TEST_F(HandlerRunnerTest, PassesTheEnvironmentAndKeepsTheDaemonsOwn) {
  setenv("TANDEM_TEST_INHERITED", "from-daemon", 1);
  setenv("DRBD_RESOURCE", "stale", 1);
  HandlerResult r = run("echo \"$DRBD_RESOURCE|$DRBD_PEER_ADDRESS|$TANDEM_TEST_INHERITED\"", 10s,
                        {{"DRBD_RESOURCE", "r0"}, {"DRBD_PEER_ADDRESS", "10.0.0.2"}});
  unsetenv("TANDEM_TEST_INHERITED");
  unsetenv("DRBD_RESOURCE");
  ASSERT_TRUE(r.exited) << r.failure;
  EXPECT_EQ(r.output, "r0|10.0.0.2|from-daemon\n");
}

TEST_F(HandlerRunnerTest, CollectsStdoutAndStderrLineByLine) {
  HandlerResult r = run("echo one; echo two >&2; printf three");
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.output, "one\ntwo\nthree\n");
}

TEST_F(HandlerRunnerTest, HasNoTerminalInputAndNoBlockedSignals) {
  // stdin is /dev/null (a handler that reads does not hang), and SIGTERM
  // reaches the handler even though the daemon blocks it for its signalfd.
  sigset_t mask, old;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, &old);
  HandlerResult r = run("read x; echo \"read:$?\"; kill -TERM $$; sleep 5; echo survived");
  sigprocmask(SIG_SETMASK, &old, nullptr);
  EXPECT_FALSE(r.exited);
  EXPECT_NE(r.failure.find("killed by signal 15"), std::string::npos) << r.failure;
  EXPECT_EQ(r.output, "read:1\n");
}

TEST_F(HandlerRunnerTest, TimeoutKillsTheWholeProcessGroup) {
  const std::string marker = dir_ + "/grandchild-alive";
  const auto start = Clock::now();
  // The shell starts a background grandchild that would write the marker
  // after 2 s; killing only the shell would leave it running.
  HandlerResult r = run("(sleep 2; touch " + marker + ") & sleep 30", 300ms);
  const auto took = Clock::now() - start;
  EXPECT_FALSE(r.exited);
  EXPECT_NE(r.failure.find("timeout"), std::string::npos) << r.failure;
  EXPECT_LT(took, 5s);
  std::this_thread::sleep_for(2500ms);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "a process of the handler survived the kill";
}

TEST_F(HandlerRunnerTest, TheLoopKeepsRunningWhileAHandlerRuns) {
  std::optional<HandlerResult> got;
  runner_->start({"sleep 1", {}, 10s, "slow"}, [&](const HandlerResult& r) { got = r; });
  int ticks = 0;
  std::function<void()> tick = [&] {
    ++ticks;
    if (!got) loop_->add_timer(20ms, tick);
  };
  loop_->add_timer(20ms, tick);
  const auto deadline = Clock::now() + 10s;
  while (!got && Clock::now() < deadline) ASSERT_TRUE(loop_->run_once(50ms).ok());
  ASSERT_TRUE(got && got->exited);
  EXPECT_GT(ticks, 20) << "timers did not run while the handler ran";
}

TEST_F(HandlerRunnerTest, ShellFailuresAreExitCodes) {
  HandlerResult r = run("/nonexistent/handler arg");
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.output.find("not found"), std::string::npos) << r.output;
}

TEST_F(HandlerRunnerTest, DestroyingTheRunnerKillsRunningHandlers) {
  const std::string marker = dir_ + "/after-shutdown";
  bool called = false;
  runner_->start({"sleep 1; touch " + marker, {}, 10s, "left running"},
                 [&](const HandlerResult&) { called = true; });
  ASSERT_TRUE(loop_->run_once(10ms).ok());
  EXPECT_EQ(runner_->running(), 1u);
  runner_.reset();
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_FALSE(called);
}

TEST_F(HandlerRunnerTest, EndlessOutputIsBoundedAndDoesNotBlockTheHandler) {
  HandlerResult r = run("head -c 2000000 /dev/zero | tr '\\0' 'x'; exit 9");
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 9);
  EXPECT_LE(r.output.size(), 4096u + 64);
}

}  // namespace
}  // namespace tandem::daemon
