#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fake_agent.h"
#include "fence/agent/agent.h"
#include "fence/agent/secrets.h"

namespace tandem::fence {
namespace {

using testing::FakeAgent;

// Captures what run_agent writes and drives a fake clock: sleeping advances it.
class RunAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clear_secrets();
    out_ = std::tmpfile();
    err_ = std::tmpfile();
    runtime_.out = out_;
    runtime_.err = err_;
    runtime_.init_logging = false;
    runtime_.to_syslog = false;
    runtime_.now = [this] { return now_; };
    runtime_.sleep = [this](std::chrono::milliseconds d) {
      slept_ += d;
      now_ += d;
    };
    info_.name = "fence_fake";
    info_.shortdesc = "fake";
    info_.uses_plug = true;
    info_.supports_cycle = true;
    info_.supports_list = true;
    info_.parameters = connection_parameters(623, true);
  }
  void TearDown() override {
    std::fclose(out_);
    std::fclose(err_);
  }

  static std::string slurp(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    return s;
  }

  int run_args(std::vector<std::string> args) {
    args.insert(args.begin(), "fence_fake");
    storage_ = args;
    argv_.clear();
    for (std::string& a : storage_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
    return run_agent(agent_, info_, static_cast<int>(storage_.size()), argv_.data(), nullptr,
                     runtime_);
  }

  int run_stdin(const std::string& text) {
    std::FILE* in = std::tmpfile();
    std::fwrite(text.data(), 1, text.size(), in);
    std::rewind(in);
    char name[] = "fence_fake";
    char* argv[] = {name, nullptr};
    const int rc = run_agent(agent_, info_, 1, argv, in, runtime_);
    std::fclose(in);
    return rc;
  }

  std::string out() { return slurp(out_); }
  std::string err() { return slurp(err_); }

  FakeAgent agent_;
  AgentInfo info_;
  AgentRuntime runtime_;
  std::FILE* out_ = nullptr;
  std::FILE* err_ = nullptr;
  std::chrono::steady_clock::time_point now_{};
  std::chrono::milliseconds slept_{0};
  std::vector<std::string> storage_;
  std::vector<char*> argv_;
};

TEST_F(RunAgentTest, StatusExitCodesFollowFenceAgents) {
  agent_.power = PowerState::kOn;
  EXPECT_EQ(run_args({"--ip", "h", "-o", "status"}), 0);
  EXPECT_EQ(out(), "Status: ON\n");
  agent_.power = PowerState::kOff;
  EXPECT_EQ(run_args({"--ip", "h", "-o", "status"}), 2);
  EXPECT_EQ(run_args({"--ip", "h", "-o", "monitor"}), 2);
  agent_.unreachable = true;
  EXPECT_EQ(run_args({"--ip", "h", "-o", "status"}), 1);
  EXPECT_NE(err().find("device did not answer"), std::string::npos);
}

TEST_F(RunAgentTest, DefaultActionIsRebootOffThenOn) {
  agent_.power = PowerState::kOn;
  EXPECT_EQ(run_stdin("ip=h\nport=3\n"), 0);
  EXPECT_EQ(agent_.power, PowerState::kOn);
  const std::vector<std::string> expected = {"configure", "status", "set_off", "status",
                                             "status",    "set_on", "status",  "finish"};
  EXPECT_EQ(agent_.calls, expected);
  EXPECT_NE(out().find("Success: Rebooted"), std::string::npos);
}

TEST_F(RunAgentTest, NodenameServesAsPlugWhenNoPlugIsGiven) {
  EXPECT_EQ(run_stdin("ip=h\nnodename=mail02\naction=status\n"), 0);
  EXPECT_EQ(agent_.seen.get_or("plug", ""), "mail02");
  EXPECT_EQ(run_stdin("ip=h\nnodename=mail02\nport=7\naction=status\n"), 0);
  EXPECT_EQ(agent_.seen.get_or("plug", ""), "7");
}

TEST_F(RunAgentTest, OffWaitsForTheDeviceToReadBackOff) {
  agent_.lag_reads = 3;  // the device takes three reads to report the change
  EXPECT_EQ(run_args({"-a", "h", "-o", "off", "--power-timeout", "10"}), 0);
  EXPECT_EQ(agent_.power, PowerState::kOff);
  EXPECT_EQ(slept_, std::chrono::milliseconds(2000));  // two 1 s polls before the third read
}

TEST_F(RunAgentTest, OffFailsWhenPowerNeverReadsBackWithinPowerTimeout) {
  agent_.stuck = true;
  EXPECT_EQ(run_args({"-a", "h", "-o", "off", "--power-timeout", "3", "--power-wait", "1"}), 1);
  EXPECT_NE(err().find("still reports power on"), std::string::npos) << err();
  EXPECT_GE(slept_, std::chrono::milliseconds(4000));  // 1 s wait + 3 s of polling
  EXPECT_LE(slept_, std::chrono::milliseconds(5000));
}

TEST_F(RunAgentTest, RebootSucceedsOnceOffEvenIfPowerOnFails) {
  // Off works, then the device becomes unreachable: the node is fenced anyway.
  struct OffThenGone : FakeAgent {
    Result<void> set_power(PowerState target) override {
      if (target == PowerState::kOn) unreachable = true;
      return FakeAgent::set_power(target);
    }
  } agent;
  char name[] = "fence_fake";
  char ip[] = "--ip=h";
  char* argv[] = {name, ip, nullptr};
  EXPECT_EQ(run_agent(agent, info_, 2, argv, nullptr, runtime_), 0);
  EXPECT_EQ(agent.power, PowerState::kOff);
  EXPECT_NE(err().find("did not power on again"), std::string::npos) << err();
}

TEST_F(RunAgentTest, RebootWithMethodCycleUsesOnePowerCycle) {
  EXPECT_EQ(run_args({"--ip", "h", "--method", "cycle"}), 0);
  const std::vector<std::string> expected = {"configure", "cycle", "finish"};
  EXPECT_EQ(agent_.calls, expected);
}

TEST_F(RunAgentTest, AlreadyOffIsSuccessWithoutSwitching) {
  agent_.power = PowerState::kOff;
  EXPECT_EQ(run_args({"--ip", "h", "-o", "off"}), 0);
  EXPECT_EQ(std::count(agent_.calls.begin(), agent_.calls.end(), "set_off"), 0);
}

TEST_F(RunAgentTest, DelayIsAppliedBeforeOff) {
  EXPECT_EQ(run_args({"--ip", "h", "-o", "off", "--delay", "7"}), 0);
  EXPECT_EQ(slept_, std::chrono::milliseconds(7000));
}

TEST_F(RunAgentTest, MissingRequiredOptionFailsBeforeTouchingTheDevice) {
  EXPECT_EQ(run_args({"-o", "off"}), 1);
  EXPECT_NE(err().find("--ip"), std::string::npos);
  EXPECT_TRUE(agent_.calls.empty() ||
              std::find(agent_.calls.begin(), agent_.calls.end(), "set_off") == agent_.calls.end());
}

TEST_F(RunAgentTest, UnknownActionAndBadOptionsExitOne) {
  EXPECT_EQ(run_args({"--ip", "h", "-o", "explode"}), 1);
  EXPECT_NE(err().find("unknown action 'explode'"), std::string::npos);
  EXPECT_EQ(run_args({"--ip", "h", "--bogus"}), 1);
}

TEST_F(RunAgentTest, ValidateAllReportsConfigureErrors) {
  EXPECT_EQ(run_args({"--ip", "h", "-o", "validate-all"}), 0);
  EXPECT_EQ(run_args({"--ip", "bad", "-o", "validate-all"}), 1);
  EXPECT_NE(err().find("cannot resolve bad"), std::string::npos);
}

TEST_F(RunAgentTest, ListPrintsOutlets) {
  EXPECT_EQ(run_args({"--ip", "h", "-o", "list"}), 0);
  EXPECT_EQ(out(), "1,mail01\n2,mail02\n");
}

TEST_F(RunAgentTest, MetadataNeedsNoDeviceOptions) {
  EXPECT_EQ(run_args({"-o", "metadata"}), 0);
  const std::string xml = out();
  EXPECT_NE(xml.find("<resource-agent name=\"fence_fake\""), std::string::npos);
  EXPECT_NE(xml.find("<parameter name=\"ipaddr\" unique=\"0\" required=\"0\" deprecated=\"1\">"),
            std::string::npos);
  EXPECT_NE(xml.find("<parameter name=\"ip\" unique=\"0\" required=\"1\" obsoletes=\"ipaddr\">"),
            std::string::npos);
  EXPECT_NE(xml.find("<getopt mixed=\"-p, --password=[password]\" />"), std::string::npos);
  EXPECT_NE(xml.find("<option value=\"cycle\" />"), std::string::npos);
  EXPECT_NE(xml.find("<action name=\"list\" />"), std::string::npos);
  EXPECT_TRUE(agent_.calls.empty());
}

TEST_F(RunAgentTest, PasswordIsScrubbedFromArgvAndRedactedFromErrors) {
  agent_.unreachable = true;
  agent_.error_text = "login failed for admin with password hunter22";
  EXPECT_EQ(run_args({"--ip", "h", "-o", "off", "--password", "hunter22"}), 1);
  EXPECT_EQ(std::string(argv_[6]), "********");
  const std::string e = err();
  EXPECT_EQ(e.find("hunter22"), std::string::npos) << e;
  EXPECT_NE(e.find("[redacted]"), std::string::npos) << e;

  EXPECT_EQ(run_args({"--ip", "h", "--password=hunter33", "-o", "status"}), 1);
  EXPECT_EQ(std::string(argv_[3]), "--password=********");
}

TEST_F(RunAgentTest, DebugFileLogsOptionsAndErrorsWithoutThePassword) {
  char path[] = "/tmp/tandem-agent-debug-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  runtime_.init_logging = true;
  agent_.unreachable = true;
  agent_.error_text = "BMC rejected password pw-in-log-1";
  EXPECT_EQ(run_args({"--ip", "h", "-o", "status", "--password", "pw-in-log-1", "-D", path}), 1);
  std::FILE* f = std::fopen(path, "r");
  ASSERT_NE(f, nullptr);
  const std::string log = slurp(f);
  std::fclose(f);
  unlink(path);
  EXPECT_NE(log.find("option ip=h"), std::string::npos) << log;
  EXPECT_NE(log.find("option password=[redacted]"), std::string::npos) << log;
  EXPECT_NE(log.find("BMC rejected password [redacted]"), std::string::npos) << log;
  EXPECT_EQ(log.find("pw-in-log-1"), std::string::npos) << log;
}

TEST_F(RunAgentTest, PasswordScriptOutputBecomesThePasswordAndASecret) {
  EXPECT_EQ(run_args({"--ip", "h", "-o", "status", "-S", "echo fromscript99; echo second"}), 0);
  EXPECT_EQ(agent_.seen.get_or("password", ""), "fromscript99");
  EXPECT_EQ(redact("x fromscript99 y"), "x [redacted] y");

  EXPECT_EQ(run_args({"--ip", "h", "-o", "status", "-S", "exit 3"}), 1);
  EXPECT_NE(err().find("exited with status 3"), std::string::npos);
}

TEST_F(RunAgentTest, HelpAndVersion) {
  EXPECT_EQ(run_args({"--help"}), 0);
  EXPECT_NE(out().find("--password-script"), std::string::npos);
}

TEST(Secrets, RedactHidesEveryOccurrenceAndLongestFirst) {
  clear_secrets();
  register_secret("abc");
  register_secret("abcdef");
  register_secret("x");  // too short to register
  EXPECT_EQ(redact("abcdef abc x"), "[redacted] [redacted] x");
  clear_secrets();
}

}  // namespace
}  // namespace tandem::fence
