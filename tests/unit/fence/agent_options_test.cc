#include <gtest/gtest.h>

#include "fence/agent/agent.h"
#include "fence/agent/options.h"
#include "fence/agent/parameter.h"

namespace tandem::fence {
namespace {

std::vector<ParameterSpec> ipmi_like_specs() {
  AgentInfo info;
  info.uses_plug = true;
  info.supports_cycle = true;
  info.parameters = connection_parameters(623, true);
  ParameterSpec lanplus;
  lanplus.name = "lanplus";
  lanplus.long_option = "lanplus";
  lanplus.short_option = 'P';
  lanplus.type = ParameterType::kBoolean;
  info.parameters.push_back(lanplus);
  return all_parameters(info);
}

TEST(AgentOptions, StdinAcceptsFenceAgentsNamesCommentsAndLastValueWins) {
  const auto specs = ipmi_like_specs();
  auto opts = parse_stdin_options(
      "# written by the cluster\n"
      "ipaddr=10.0.0.5\n"
      "login = admin\n"
      "passwd=s3cret pass\n"
      "option=off\n"
      "port=mail02\n"
      "lanplus=1\n"
      "some_future_key=whatever\n"
      "\n"
      "   # indented comment\n"
      "ipaddr=10.0.0.6\r\n",
      specs);
  ASSERT_TRUE(opts) << opts.error().message;
  EXPECT_EQ(opts->get_or("ip", ""), "10.0.0.6");
  EXPECT_EQ(opts->get_or("username", ""), "admin");
  EXPECT_EQ(opts->get_or("password", ""), "s3cret pass");
  EXPECT_EQ(opts->get_or("action", ""), "off");
  EXPECT_EQ(opts->get_or("plug", ""), "mail02");
  EXPECT_TRUE(opts->flag("lanplus"));
  ASSERT_EQ(opts->unknown_keys.size(), 1u);
  EXPECT_EQ(opts->unknown_keys[0], "some_future_key");
}

TEST(AgentOptions, StdinBareBooleanNameIsTrueButBareValueOptionIsAnError) {
  const auto specs = ipmi_like_specs();
  auto opts = parse_stdin_options("lanplus\nverbose\n", specs);
  ASSERT_TRUE(opts);
  EXPECT_TRUE(opts->flag("lanplus"));
  EXPECT_TRUE(opts->flag("verbose"));
  auto bad = parse_stdin_options("ip=1.2.3.4\nusername\n", specs);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("line 2"), std::string::npos) << bad.error().message;
}

TEST(AgentOptions, StdinLimits) {
  const auto specs = ipmi_like_specs();
  EXPECT_FALSE(parse_stdin_options(std::string(kMaxStdinBytes + 1, 'a'), specs));
  EXPECT_FALSE(parse_stdin_options("ip=" + std::string(kMaxStdinLine, 'x') + "\n", specs));
  std::string many;
  for (std::size_t i = 0; i <= kMaxStdinLines; ++i) many += "#\n";
  EXPECT_FALSE(parse_stdin_options(many, specs));
  EXPECT_FALSE(parse_stdin_options(std::string("ip=a\0b\n", 7), specs));
}

TEST(AgentOptions, CommandLineLongShortInlineAndSecretPositions) {
  const auto specs = ipmi_like_specs();
  const std::vector<std::string> args = {
      "--ip", "10.0.0.5",        "-l", "admin",  "--password=pw123", "-o", "status",
      "-P",   "--power-timeout", "5",  "-ppw456"};
  std::vector<SecretArgument> secrets;
  auto opts = parse_command_line(args, specs, &secrets);
  ASSERT_TRUE(opts) << opts.error().message;
  EXPECT_EQ(opts->get_or("ip", ""), "10.0.0.5");
  EXPECT_EQ(opts->get_or("username", ""), "admin");
  EXPECT_EQ(opts->get_or("password", ""), "pw456");  // last wins
  EXPECT_EQ(opts->get_or("action", ""), "status");
  EXPECT_TRUE(opts->flag("lanplus"));
  EXPECT_DOUBLE_EQ(opts->seconds("power_timeout", 20), 5);
  ASSERT_EQ(secrets.size(), 2u);
  EXPECT_EQ(secrets[0].index, 4u);
  EXPECT_EQ(secrets[0].offset, std::string("--password=").size());
  EXPECT_EQ(secrets[1].index, 10u);
  EXPECT_EQ(secrets[1].offset, 2u);
}

TEST(AgentOptions, CommandLineErrorsNameTheOption) {
  const auto specs = ipmi_like_specs();
  auto unknown = parse_command_line(std::vector<std::string>{"--frobnicate"}, specs);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("--frobnicate"), std::string::npos);
  auto missing = parse_command_line(std::vector<std::string>{"--ip"}, specs);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("--ip needs a value"), std::string::npos);
  auto stray = parse_command_line(std::vector<std::string>{"mail01"}, specs);
  EXPECT_FALSE(stray);
}

TEST(AgentOptions, ValidationChecksTypesAndNeverEchoesSecrets) {
  const auto specs = ipmi_like_specs();
  AgentOptions o;
  o.set("power_timeout", "soon");
  auto r = validate_options(o, specs);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("power-timeout"), std::string::npos);
  EXPECT_NE(r.error().message.find("soon"), std::string::npos);

  AgentOptions m;
  m.set("method", "sideways");
  auto rm = validate_options(m, specs);
  ASSERT_FALSE(rm);
  EXPECT_NE(rm.error().message.find("onoff, cycle"), std::string::npos);

  AgentOptions b;
  b.set("lanplus", "maybe");
  EXPECT_FALSE(validate_options(b, specs));

  AgentOptions ok;
  ok.set("power_wait", "0.5");
  ok.set("ipport", "6230");
  ok.set("method", "cycle");
  EXPECT_TRUE(validate_options(ok, specs));
}

TEST(AgentOptions, RequiredOptionsAreReported) {
  const auto specs = ipmi_like_specs();
  AgentOptions o;
  auto r = check_required(o, specs);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("--ip"), std::string::npos);
  o.set("ip", "127.0.0.1");
  EXPECT_TRUE(check_required(o, specs));
}

TEST(AgentOptions, ParseBool) {
  bool v = false;
  EXPECT_TRUE(parse_bool("yes", &v));
  EXPECT_TRUE(v);
  EXPECT_TRUE(parse_bool("0", &v));
  EXPECT_FALSE(v);
  EXPECT_FALSE(parse_bool("2", &v));
}

}  // namespace
}  // namespace tandem::fence
