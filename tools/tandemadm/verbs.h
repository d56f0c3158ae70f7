// tandemadm verb table. Each area of the tool registers its verbs from its
// own file (verbs_config.cc, verbs_md.cc, ...), so that main.cc only parses
// global options and dispatches.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::adm {

// Exit codes shared by every verb.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed
inline constexpr int kExitUsage = 2;    // bad command line
inline constexpr int kExitConfig = 10;  // configuration file invalid (as drbdadm)

struct GlobalOptions {
  std::string config_path = "/etc/tandem/tandem.conf";
  std::string node;                     // this host's name in the configuration
  bool node_given = false;              // --node was passed (otherwise: the hostname)
  std::string run_dir = "/run/tandem";  // tandemd's control socket lives here
  bool verbose = false;
};

// args holds the verb's own arguments (not the verb name).
using VerbFn = int (*)(const GlobalOptions& options, std::span<const std::string> args);

struct Verb {
  std::string_view name;
  std::string_view usage;    // arguments, e.g. "[--force] RESOURCE"
  std::string_view summary;  // one line for `tandemadm help`
  VerbFn run;
};

void register_config_verbs(std::vector<Verb>& table);
void register_md_verbs(std::vector<Verb>& table);
void register_fence_verbs(std::vector<Verb>& table);
void register_resource_verbs(std::vector<Verb>& table);

}  // namespace tandem::adm
