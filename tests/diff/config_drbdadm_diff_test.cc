// Differential test of tandem's drbd.conf parser against drbdadm from
// drbd-utils in DRBD 8.4 mode (no kernel module needed:
// __DRBD_NODE__=NAME DRBD_DRIVER_VERSION_OVERRIDE=8.4.11 drbdadm -c FILE dump).
//
// Cases live in config/:
//   good/      both accept; the configuration tandem reads equals the one it
//              reads back from drbdadm's dump (drbdadm's own normal form), and
//              drbdadm accepts tandem's canonical dump and normalises it to
//              the same configuration again;
//   bad/       both reject; tandem's message contains the "# tandem says:" text;
//   stricter/  drbdadm accepts, tandem rejects on purpose (the file's
//              "# why tandem is stricter:" line says why) with the given text.
// A first line "# node: NAME" picks the host (default alpha). conf/mailstore.conf
// is a good case too.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "config/dump.h"

namespace tandem::config {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string name;  // test name
  fs::path path;
  std::string kind;  // good, bad, stricter
  std::string node = "alpha";
  std::string says;  // expected part of tandem's error
  std::string why;   // stricter cases: the reason
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string header_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  const std::string prefix = "# " + key + ":";
  while (std::getline(in, line) && line.rfind('#', 0) == 0) {
    if (line.rfind(prefix, 0) == 0) {
      std::string v = line.substr(prefix.size());
      v.erase(0, v.find_first_not_of(' '));
      return v;
    }
  }
  return {};
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* kind : {"good", "bad", "stricter"}) {
    const fs::path dir = fs::path(TANDEM_DIFF_CASES) / kind;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_regular_file() && e.path().extension() == ".conf") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      const std::string text = read_file(f);
      Case c;
      c.name = std::string(kind) + "_" + f.stem().string();
      c.path = f;
      c.kind = kind;
      if (std::string n = header_value(text, "node"); !n.empty()) c.node = n;
      c.says = header_value(text, "tandem says");
      c.why = header_value(text, "why tandem is stricter");
      cases.push_back(c);
    }
  }
  Case example;
  example.name = "good_conf_mailstore_example";
  example.path = fs::path(TANDEM_SOURCE_DIR) / "conf/mailstore.conf";
  example.kind = "good";
  example.node = "mail01";
  cases.push_back(example);
  return cases;
}

struct DrbdadmRun {
  int rc = -1;
  std::string out;
  std::string err;
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tandem-diff-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string find_drbdadm() {
  for (const char* p : {"/usr/sbin/drbdadm", "/sbin/drbdadm", "/usr/local/sbin/drbdadm"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return {};
}

// drbdadm in 8.4 mode executes this helper; without it the oracle is not
// the DRBD 8.4 parser.
bool have_drbdadm84() {
  return access("/usr/lib/drbd/drbdadm-84", X_OK) == 0;
}

DrbdadmRun run_drbdadm(const fs::path& config, const std::string& node, const fs::path& scratch) {
  const fs::path out = scratch / "drbdadm.out";
  const fs::path err = scratch / "drbdadm.err";
  // Paths come from the source tree and mkdtemp; the node name from the
  // case headers: none contain quotes.
  const std::string cmd = "__DRBD_NODE__='" + node + "' DRBD_DRIVER_VERSION_OVERRIDE=8.4.11 " +
                          find_drbdadm() + " -c '" + config.string() + "' dump >'" + out.string() +
                          "' 2>'" + err.string() + "' </dev/null";
  const int status = std::system(cmd.c_str());
  DrbdadmRun r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// drbdadm prints its own command timeouts into global { }; they are drbdadm
// tuning, not part of the resource configuration, and tandem does not have
// them.
std::string without_drbdadm_only_lines(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    const auto start = line.find_first_not_of(" \t");
    if (start != std::string::npos && line.compare(start, 12, "cmd-timeout-") == 0) continue;
    out += line + "\n";
  }
  return out;
}

Config without_locations(const Config& c) {
  std::vector<ResourceConfig> resources = c.resources();
  for (ResourceConfig& r : resources) {
    r.location = {};
    for (ResolvedHost& h : r.hosts) h.location = {};
  }
  return Config(c.global(), std::move(resources));
}

// The mail-store example does not disable drbdadm's check that this host
// owns the address; the copy given to drbdadm does.
fs::path drbdadm_input(const Case& c, const fs::path& scratch) {
  if (c.name != "good_conf_mailstore_example") return c.path;
  std::string text = read_file(c.path);
  const std::string global = "global {";
  const auto at = text.find(global);
  if (at != std::string::npos) text.insert(at + global.size(), " disable-ip-verification;");
  const fs::path copy = scratch / "mailstore.conf";
  std::ofstream(copy) << text;
  return copy;
}

// gtest prints the case by name instead of as bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.path.string();
}

class DrbdadmDiff : public ::testing::TestWithParam<Case> {};

TEST_P(DrbdadmDiff, AgreesWithDrbdadm) {
  const Case& c = GetParam();
  ASSERT_FALSE(find_drbdadm().empty())
      << "drbdadm not found: install drbd-utils (scripts/setup.sh installs it)";
  ASSERT_TRUE(have_drbdadm84()) << "/usr/lib/drbd/drbdadm-84 missing: drbd-utils is incomplete";
  TempDir scratch;
  ASSERT_FALSE(scratch.path().empty());

  // Both tools read the same file.
  const fs::path input = drbdadm_input(c, scratch.path());
  const DrbdadmRun reference = run_drbdadm(input, c.node, scratch.path());
  Result<Config> ours = load_file(input.string());

  if (c.kind == "bad") {
    EXPECT_NE(reference.rc, 0) << "drbdadm accepted a case filed as bad:\n" << reference.out;
    ASSERT_FALSE(ours.ok()) << "drbdadm rejects this file but tandem accepts it; drbdadm said:\n"
                            << reference.err;
    EXPECT_THAT(ours.error().message, ::testing::HasSubstr(c.says));
    // Errors point at the file (and line) they concern.
    EXPECT_THAT(ours.error().message, ::testing::HasSubstr(".conf:"));
    return;
  }
  if (c.kind == "stricter") {
    EXPECT_FALSE(c.why.empty()) << "a stricter case must say why tandem rejects it";
    EXPECT_EQ(reference.rc, 0) << "drbdadm now rejects this; move it to bad/:\n" << reference.err;
    ASSERT_FALSE(ours.ok()) << "tandem accepted a case it is meant to reject";
    EXPECT_THAT(ours.error().message, ::testing::HasSubstr(c.says));
    return;
  }

  ASSERT_EQ(reference.rc, 0) << "drbdadm rejected a good case:\n" << reference.err;
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  ASSERT_TRUE(ours->resolve(ours->resource_names().at(0), c.node).ok());

  // 1. drbdadm's normal form of the file means the same to tandem.
  Result<Config> via_reference =
      load_string(without_drbdadm_only_lines(reference.out), c.path.string() + " (drbdadm dump)");
  ASSERT_TRUE(via_reference.ok()) << via_reference.error().message << "\n" << reference.out;
  EXPECT_EQ(without_locations(*ours), without_locations(*via_reference))
      << "tandem dump of the file:\n"
      << dump_config(*ours, c.node) << "\ntandem dump of drbdadm's dump:\n"
      << dump_config(*via_reference, c.node);

  // 2. drbdadm accepts tandem's canonical dump and means the same by it.
  const fs::path canonical = scratch.path() / "tandem-dump.conf";
  std::ofstream(canonical) << dump_config(*ours, c.node);
  const DrbdadmRun again = run_drbdadm(canonical, c.node, scratch.path());
  ASSERT_EQ(again.rc, 0) << "drbdadm rejects tandem's dump:\n"
                         << again.err << "\n"
                         << read_file(canonical);
  Result<Config> round = load_string(without_drbdadm_only_lines(again.out), "drbdadm dump");
  ASSERT_TRUE(round.ok()) << round.error().message;
  EXPECT_EQ(without_locations(*ours), without_locations(*round));
}

INSTANTIATE_TEST_SUITE_P(Cases, DrbdadmDiff, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           std::string n = param_info.param.name;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace tandem::config
