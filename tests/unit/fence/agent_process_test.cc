#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fence/agent/secrets.h"
#include "fence/agent_process.h"

namespace tandem::fence {
namespace {

// Running and not a zombie (a zombie may wait long for an init that reaps late).
bool process_running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

class AgentProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-agentproc-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string script(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), 0755);
    return path;
  }
  std::string read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  DeviceInvocation device(const std::string& agent) {
    DeviceInvocation d;
    d.method = "1";
    d.device = "dev";
    d.agent = agent;
    d.parameters = {{"ipaddr", "10.0.0.1"},
                    {"passwd", "topsecret1"},
                    {"nodename", "mail02"},
                    {"action", "off"}};
    return d;
  }
  std::string dir_;
};

TEST_F(AgentProcessTest, AgentGetsOptionsOnStdinAndItsExitCodeIsReported) {
  script("fence_rec",
         "cat > \"$(dirname \"$0\")/stdin.txt\"\necho 'working'\necho 'all done' >&2\nexit 0\n");
  AgentSearchPath path;
  path.directories = {dir_};
  AgentOutcome o = run_agent_process(device("fence_rec"), path);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_FALSE(o.timed_out);
  EXPECT_EQ(o.detail, "all done");
  EXPECT_EQ(read("stdin.txt"), "ipaddr=10.0.0.1\npasswd=topsecret1\nnodename=mail02\naction=off\n");
}

TEST_F(AgentProcessTest, FailureDetailIsTheLastLineWithoutThePassword) {
  script("fence_fail", "cat >/dev/null\necho 'login with topsecret1 refused' >&2\nexit 1\n");
  AgentSearchPath path;
  path.directories = {dir_};
  AgentOutcome o = run_agent_process(device("fence_fail"), path);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.detail, "login with [redacted] refused");
}

TEST_F(AgentProcessTest, AgentPastItsTimeoutIsKilledWithItsChildren) {
  script("fence_hang", "sleep 60 &\necho $! > \"$(dirname \"$0\")/child.pid\"\nsleep 60\n");
  AgentSearchPath path;
  path.directories = {dir_};
  DeviceInvocation d = device("fence_hang");
  d.timeout_seconds = 0.5;
  const auto start = std::chrono::steady_clock::now();
  AgentOutcome o = run_agent_process(d, path);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(o.timed_out);
  EXPECT_NE(o.detail.find("killed after 0.5 s"), std::string::npos) << o.detail;
  const pid_t child = static_cast<pid_t>(std::atoi(read("child.pid").c_str()));
  ASSERT_GT(child, 0);
  // The background child was in the agent's process group and got SIGTERM.
  for (int i = 0; i < 100 && process_running(child); ++i) usleep(20000);
  EXPECT_FALSE(process_running(child));
}

TEST_F(AgentProcessTest, AgentIgnoringSigtermIsKilledAfterTheGracePeriod) {
  script("fence_stubborn", "trap '' TERM\nwhile :; do sleep 0.1; done\n");
  AgentSearchPath path;
  path.directories = {dir_};
  DeviceInvocation d = device("fence_stubborn");
  d.timeout_seconds = 0.2;
  const auto start = std::chrono::steady_clock::now();
  AgentOutcome o = run_agent_process(d, path);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(o.timed_out);
  EXPECT_EQ(o.exit_code, -1);
  EXPECT_NE(o.detail.find("killed"), std::string::npos);
  EXPECT_GE(took, std::chrono::seconds(5));  // SIGTERM was ignored: SIGKILL after 5 s
  EXPECT_LT(took, std::chrono::seconds(15));
}

TEST_F(AgentProcessTest, MissingAgentIsAFailureNamingTheSearchPath) {
  AgentSearchPath path;
  path.directories = {dir_};
  AgentOutcome o = run_agent_process(device("fence_nonexistent"), path);
  EXPECT_EQ(o.exit_code, -1);
  EXPECT_NE(o.detail.find("fence_nonexistent was not found in"), std::string::npos);
  EXPECT_NE(o.detail.find(dir_), std::string::npos);
}

TEST_F(AgentProcessTest, AbsoluteAgentPathAndEnvironmentSearchPath) {
  const std::string p = script("fence_abs", "cat >/dev/null\nexit 2\n");
  AgentSearchPath none;
  none.directories = {};
  EXPECT_EQ(run_agent_process(device(p), none).exit_code, 2);
  setenv("TANDEM_FENCE_AGENT_PATH", ("/nonexistent:" + dir_).c_str(), 1);
  EXPECT_EQ(run_agent_process(device("fence_abs"), none).exit_code, 2);
  unsetenv("TANDEM_FENCE_AGENT_PATH");
}

TEST_F(AgentProcessTest, AgentThatIgnoresStdinDoesNotHangOrKillUs) {
  script("fence_quick", "exit 0\n");
  AgentSearchPath path;
  path.directories = {dir_};
  DeviceInvocation d = device("fence_quick");
  for (int i = 0; i < 2000; ++i) d.parameters.emplace_back("pad" + std::to_string(i), "xxxxxxxx");
  EXPECT_EQ(run_agent_process(d, path).exit_code, 0);
}

TEST_F(AgentProcessTest, AgentStartsWithDefaultSignalHandling) {
  // We ignore SIGPIPE; the agent must not inherit that.
  script("fence_sig", "cat >/dev/null\ngrep -E '^Sig(Ign|Blk):' /proc/$$/status >&2\n");
  AgentSearchPath path;
  path.directories = {dir_};
  AgentOutcome o = run_agent_process(device("fence_sig"), path);
  EXPECT_EQ(o.exit_code, 0);
  // The last line is SigIgn; SIGPIPE is signal 13, bit 0x1000.
  ASSERT_EQ(o.detail.rfind("SigIgn:", 0), 0u) << o.detail;
  const unsigned long long ignored = std::stoull(o.detail.substr(7), nullptr, 16);
  EXPECT_EQ(ignored & 0x1000ull, 0ull) << o.detail;
}

}  // namespace
}  // namespace tandem::fence
