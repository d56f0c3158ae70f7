// tandemadm: the administrator's command line for tandem resources,
// metadata and fencing.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/log.h"
#include "verbs.h"

namespace tandem::adm {
namespace {

std::vector<Verb> all_verbs() {
  std::vector<Verb> table;
  register_config_verbs(table);
  register_md_verbs(table);
  register_fence_verbs(table);
  register_resource_verbs(table);
  return table;
}

void print_usage(std::FILE* out, const std::vector<Verb>& verbs) {
  std::fprintf(
      out,
      "usage: tandemadm [-c FILE] [--node NAME] [--run-dir DIR] [-v] VERB [ARGS...]\n"
      "\n"
      "  -c, --config FILE  configuration file (default /etc/tandem/tandem.conf)\n"
      "  -n, --node NAME    act as host NAME of the configuration (default: hostname)\n"
      "      --run-dir DIR  tandemd's run directory (default /run/tandem, or $TANDEM_RUN_DIR)\n"
      "  -v, --verbose      log details to stderr\n"
      "\n"
      "verbs:\n");
  for (const Verb& v : verbs) {
    const std::string head = std::string(v.name) + " " + std::string(v.usage);
    std::fprintf(out, "  %-34s %.*s\n", head.c_str(), static_cast<int>(v.summary.size()),
                 v.summary.data());
  }
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) {
    return {};
  }
  std::string name(buf);
  // drbd.conf `on HOST` names match the short host name.
  if (auto dot = name.find('.'); dot != std::string::npos) {
    name.resize(dot);
  }
  return name;
}

int run(int argc, char** argv) {
  const std::vector<Verb> verbs = all_verbs();
  GlobalOptions options;
  bool run_dir_given = false;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tandemadm: option %s needs %s\n", arg.c_str(), what);
        return nullptr;
      }
      return argv[++i];
    };
    if (arg == "-c" || arg == "--config") {
      const char* v = value("a file name");
      if (v == nullptr) return kExitUsage;
      options.config_path = v;
    } else if (arg.rfind("--config=", 0) == 0) {
      options.config_path = arg.substr(std::strlen("--config="));
    } else if (arg == "-n" || arg == "--node") {
      const char* v = value("a host name");
      if (v == nullptr) return kExitUsage;
      options.node = v;
      options.node_given = true;
    } else if (arg.rfind("--node=", 0) == 0) {
      options.node = arg.substr(std::strlen("--node="));
      options.node_given = true;
    } else if (arg == "--run-dir") {
      const char* v = value("a directory");
      if (v == nullptr) return kExitUsage;
      options.run_dir = v;
      run_dir_given = true;
    } else if (arg.rfind("--run-dir=", 0) == 0) {
      options.run_dir = arg.substr(std::strlen("--run-dir="));
      run_dir_given = true;
    } else if (arg == "-v" || arg == "--verbose") {
      options.verbose = true;
    } else if (arg == "-h" || arg == "--help" || arg == "help") {
      print_usage(stdout, verbs);
      return kExitOk;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "tandemadm: unknown option %s (see tandemadm --help)\n", arg.c_str());
      return kExitUsage;
    } else {
      break;
    }
  }
  if (i >= argc) {
    print_usage(stderr, verbs);
    return kExitUsage;
  }
  if (const char* env = std::getenv("TANDEM_RUN_DIR"); env != nullptr && !run_dir_given) {
    options.run_dir = env;
  }
  if (!options.node_given) {
    options.node = hostname();
  }
  if (options.verbose) {
    log::set_stderr_priority(LOG_DEBUG);
  }

  const std::string verb_name = argv[i++];
  for (const Verb& v : verbs) {
    if (v.name == verb_name) {
      const std::vector<std::string> args(argv + i, argv + argc);
      return v.run(options, args);
    }
  }
  std::fprintf(stderr, "tandemadm: unknown verb '%s' (see tandemadm --help)\n", verb_name.c_str());
  return kExitUsage;
}

}  // namespace
}  // namespace tandem::adm

int main(int argc, char** argv) {
  tandem::log::init({.program = "tandemadm", .stderr_priority = LOG_WARNING});
  const int rc = tandem::adm::run(argc, argv);
  tandem::log::shutdown();
  return rc;
}
