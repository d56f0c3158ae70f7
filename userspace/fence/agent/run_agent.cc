#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "fence/agent/agent.h"
#include "fence/agent/metadata.h"
#include "fence/agent/power_sequence.h"
#include "fence/agent/secrets.h"

namespace tandem::fence {

const char* action_name(Action action) {
  switch (action) {
    case Action::kOn:
      return "on";
    case Action::kOff:
      return "off";
    case Action::kReboot:
      return "reboot";
    case Action::kStatus:
      return "status";
    case Action::kMonitor:
      return "monitor";
    case Action::kList:
      return "list";
    case Action::kMetadata:
      return "metadata";
    case Action::kValidateAll:
      return "validate-all";
  }
  return "reboot";
}

Result<Action> parse_action(std::string_view text) {
  static constexpr Action kAll[] = {Action::kOn,       Action::kOff,        Action::kReboot,
                                    Action::kStatus,   Action::kMonitor,    Action::kList,
                                    Action::kMetadata, Action::kValidateAll};
  for (Action a : kAll) {
    if (text == action_name(a)) return a;
  }
  // Older fence-agents callers spell on/off this way.
  if (text == "enable") return Action::kOn;
  if (text == "disable") return Action::kOff;
  const std::string shown(text.substr(0, 64));
  return make_error("unknown action '" + shown +
                    "'; use on, off, reboot, status, monitor, list, metadata or validate-all");
}

AgentRuntime AgentRuntime::real() {
  AgentRuntime r;
  r.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  r.now = [] { return std::chrono::steady_clock::now(); };
  return r;
}

std::vector<ParameterSpec> all_parameters(const AgentInfo& info) {
  std::vector<ParameterSpec> specs =
      common_parameters(info.uses_plug, info.plug_required, info.supports_cycle);
  for (ParameterSpec& s : specs) {
    char buf[32];
    if (s.name == "power_timeout") {
      std::snprintf(buf, sizeof buf, "%g", info.default_power_timeout);
      s.default_value = buf;
    } else if (s.name == "power_wait") {
      std::snprintf(buf, sizeof buf, "%g", info.default_power_wait);
      s.default_value = buf;
    }
  }
  for (const ParameterSpec& extra : info.parameters) {
    bool replaced = false;
    for (ParameterSpec& s : specs) {
      if (s.name == extra.name) {  // an agent may refine a common parameter
        s = extra;
        replaced = true;
      }
    }
    if (!replaced) specs.push_back(extra);
  }
  return specs;
}

namespace {

constexpr const char* kVersion = "tandem 0.1.0";

void print_help(std::FILE* out, const AgentInfo& info, const std::vector<ParameterSpec>& specs) {
  std::fprintf(out, "%s: %s\n\nusage: %s [OPTIONS]   or   %s < name=value lines\n\n",
               info.name.c_str(), info.shortdesc.c_str(), info.name.c_str(), info.name.c_str());
  for (const ParameterSpec& s : specs) {
    std::string head = s.short_option != 0 ? std::string("-") + s.short_option + ", " : "    ";
    head += "--" + s.long_option;
    if (s.type != ParameterType::kBoolean) {
      head += "=[" + (s.value_name.empty() ? s.name : s.value_name) + "]";
    }
    std::string desc = s.shortdesc;
    if (!s.default_value.empty()) desc += " (default " + s.default_value + ")";
    if (s.required) desc += " (required)";
    std::fprintf(out, "  %-34s %s\n", head.c_str(), desc.c_str());
  }
  std::fprintf(out,
               "\nExit codes: 0 success; 1 failure or device unreachable; 2 status/monitor: "
               "power is off.\n");
}

Result<std::string> read_stdin(std::FILE* in) {
  std::string text;
  if (in == nullptr) return text;
  char buf[4096];
  while (true) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, in);
    if (n == 0) break;
    text.append(buf, n);
    if (text.size() > kMaxStdinBytes) {
      return make_error("standard input holds more than " + std::to_string(kMaxStdinBytes) +
                        " bytes of options");
    }
  }
  return text;
}

class ActionRunner {
 public:
  ActionRunner(Agent& agent, const AgentInfo& info, const AgentRuntime& runtime)
      : agent_(agent), info_(info), runtime_(runtime) {}

  int fail(const std::string& message) {
    const std::string safe = redact(message);
    std::fprintf(runtime_.err, "%s: %s\n", info_.name.c_str(), safe.c_str());
    TLOG(LOG_ERR, "%s", safe.c_str());
    return kAgentExitFailure;
  }

  int run(const AgentOptions& options, Action action, const std::vector<ParameterSpec>& specs) {
    if (action == Action::kMetadata) {
      std::fputs(metadata_xml(info_).c_str(), runtime_.out);
      return kAgentExitSuccess;
    }
    // list and monitor talk to the device, not to one plug.
    std::vector<ParameterSpec> needed;
    for (const ParameterSpec& s : specs) {
      if ((action == Action::kList || action == Action::kMonitor) && s.name == "plug") continue;
      needed.push_back(s);
    }
    if (auto r = check_required(options, needed); !r) return fail(r.error().message);
    configured_ = true;
    if (auto r = agent_.configure(options); !r) return fail(r.error().message);
    if (action == Action::kValidateAll) {
      std::fprintf(runtime_.out, "Options are valid\n");
      return kAgentExitSuccess;
    }

    PowerTiming timing;
    timing.power_wait = options.seconds("power_wait", info_.default_power_wait);
    timing.power_timeout = options.seconds("power_timeout", info_.default_power_timeout);
    timing.retry_on = static_cast<int>(options.integer("retry_on", 1));
    timing.readback = info_.power_state_readback;

    if (action == Action::kOff || action == Action::kReboot) {
      const double delay = options.seconds("delay", 0);
      if (delay > 0) {
        TLOG(LOG_INFO, "delaying fencing by %g s as asked (delay)", delay);
        runtime_.sleep(std::chrono::milliseconds(static_cast<long long>(delay * 1000)));
      }
    }
    const std::string target = options.get_or("plug", options.get_or("ip", "the device"));

    switch (action) {
      case Action::kStatus:
      case Action::kMonitor: {
        auto state = agent_.power_status();
        if (!state) return fail("cannot read the power status: " + state.error().message);
        if (action == Action::kStatus) {
          std::fprintf(runtime_.out, "Status: %s\n", *state == PowerState::kOn ? "ON" : "OFF");
        }
        return *state == PowerState::kOn ? kAgentExitSuccess : kAgentExitPowerOff;
      }
      case Action::kList: {
        if (!info_.supports_list) return fail("action list is not supported by this agent");
        auto outlets = agent_.list();
        if (!outlets) return fail("cannot list outlets: " + outlets.error().message);
        for (const Outlet& o : *outlets) {
          std::fprintf(runtime_.out, "%s,%s\n", o.plug.c_str(), o.alias.c_str());
        }
        return kAgentExitSuccess;
      }
      case Action::kOn:
      case Action::kOff: {
        const PowerState want = action == Action::kOn ? PowerState::kOn : PowerState::kOff;
        TLOG(LOG_INFO, "%s: switching power %s", redact(target).c_str(), action_name(action));
        if (auto r = set_power_and_wait(agent_, want, timing, runtime_); !r) {
          return fail(target + ": " + r.error().message);
        }
        std::fprintf(runtime_.out, "Success: Powered %s\n", want == PowerState::kOn ? "ON" : "OFF");
        TLOG(LOG_INFO, "%s: power is %s", redact(target).c_str(), action_name(action));
        return kAgentExitSuccess;
      }
      case Action::kReboot: {
        const bool cycle = info_.supports_cycle && options.get_or("method", "onoff") == "cycle";
        TLOG(LOG_INFO, "%s: rebooting (%s)", redact(target).c_str(), cycle ? "cycle" : "off, on");
        std::string warning;
        if (auto r = reboot(agent_, cycle, timing, runtime_, &warning); !r) {
          return fail(target + ": " + r.error().message);
        }
        if (!warning.empty()) {
          const std::string safe = redact(target + ": " + warning);
          std::fprintf(runtime_.err, "%s: warning: %s\n", info_.name.c_str(), safe.c_str());
          TLOG(LOG_WARNING, "%s", safe.c_str());
        }
        std::fprintf(runtime_.out, "Success: Rebooted\n");
        return kAgentExitSuccess;
      }
      case Action::kMetadata:
      case Action::kValidateAll:
        break;
    }
    return kAgentExitSuccess;
  }

  bool configured() const { return configured_; }

 private:
  bool configured_ = false;
  Agent& agent_;
  const AgentInfo& info_;
  const AgentRuntime& runtime_;
};

}  // namespace

int run_agent(Agent& agent, const AgentInfo& info, int argc, char** argv, std::FILE* in) {
  return run_agent(agent, info, argc, argv, in, AgentRuntime::real());
}

int run_agent(Agent& agent, const AgentInfo& info, int argc, char** argv, std::FILE* in,
              const AgentRuntime& runtime) {
  const std::vector<ParameterSpec> specs = all_parameters(info);
  ActionRunner runner(agent, info, runtime);

  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);

  Result<AgentOptions> parsed = AgentOptions{};
  if (args.empty()) {
    auto text = read_stdin(in);
    if (!text) return runner.fail(text.error().message);
    parsed = parse_stdin_options(*text, specs);
  } else {
    std::vector<SecretArgument> secret_args;
    parsed = parse_command_line(args, specs, &secret_args);
    for (const SecretArgument& s : secret_args) {
      scrub_argv_value(argv[s.index + 1], s.offset);
    }
  }
  if (!parsed) return runner.fail(parsed.error().message);
  AgentOptions& options = *parsed;

  for (const ParameterSpec& s : specs) {
    if (!s.secret) continue;
    if (auto v = options.get(s.name)) register_secret(*v);
  }
  if (info.uses_plug && !options.has("plug")) {
    // cman-era callers name the victim with nodename= instead of plug=.
    if (auto node = options.get("nodename")) options.set("plug", *node);
  }

  if (options.flag("help")) {
    print_help(runtime.out, info, specs);
    return kAgentExitSuccess;
  }
  if (options.flag("version")) {
    std::fprintf(runtime.out, "%s (%s)\n", info.name.c_str(), kVersion);
    return kAgentExitSuccess;
  }
  if (auto r = validate_options(options, specs); !r) return runner.fail(r.error().message);
  auto action = parse_action(options.get_or("action", "reboot"));
  if (!action) return runner.fail(action.error().message);

  if (runtime.init_logging) {
    const std::string debug_file = options.get_or("debug_file", "");
    log::init({.program = info.name.c_str(),
               .stderr_priority = options.flag("verbose") ? LOG_DEBUG : LOG_EMERG,
               .to_syslog = runtime.to_syslog,
               .file = debug_file.empty() ? nullptr : debug_file.c_str(),
               .file_priority = LOG_DEBUG});
  }
  for (const auto& [name, value] : options.values()) {
    const ParameterSpec* spec = find_parameter(specs, name);
    TLOG(LOG_DEBUG, "option %s=%s", name.c_str(),
         spec != nullptr && spec->secret ? kRedacted.data() : redact(value).c_str());
  }
  for (const std::string& key : options.unknown_keys) {
    TLOG(LOG_DEBUG, "ignoring unknown stdin option '%s'", redact(key).c_str());
  }

  if (*action != Action::kMetadata && !options.has("password")) {
    if (auto script = options.get("password_script")) {
      auto password = run_password_script(*script);
      if (!password) {
        const int rc = runner.fail(password.error().message);
        if (runtime.init_logging) log::shutdown();
        return rc;
      }
      options.set("password", *password);
    }
  }

  const int rc = runner.run(options, *action, specs);
  if (runner.configured()) agent.finish();
  if (runtime.init_logging) log::shutdown();
  return rc;
}

}  // namespace tandem::fence
