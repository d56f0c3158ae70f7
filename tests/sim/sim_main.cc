// tandem-sim: runs the deterministic simulation of a two-node resource, or
// of three resources in a ring on three nodes (--nodes 3).
//   tandem-sim --seed N [--steps M] [--nodes 2|3] [--trace]  one run, replayable
//   tandem-sim --seeds FIRST:COUNT [--steps M]              a range (CI)
//   tandem-sim --duration SECONDS [--seed FIRST]            seeds until time is up
//   --mode a|b|c|dual  force protocol A, B, C or dual-primary (protocol C) instead of
//                    letting the seed choose
//   --break-ack      negative control (see simulation.h); with --expect-failure-within N
//                    the program succeeds only if a seed of the range fails
//   --break-activity-log  negative control: writes bypass the activity log
//   --crash-busy-primary  power cuts also hit a primary with writes in flight
//   --demote-busy-primary demote a primary whose application has requests in flight
//   --attach-on-primary   re-attach a failed disk while the node is primary
//   --strict-protocol-b  protocol B: data that reached the secondary must be written there
//                    (on by default since the core handles it; kept for old replay lines)
//   --connect-while-down  a node taken down may connect and be promoted while diskless
//                    (on by default since the core handles it; kept for old replay lines)
//   --crash-primary-in-metadata-write  power cuts during a primary's metadata write
//                    (on by default since the core handles it; kept for old replay lines)
//   --invalidate-anytime  invalidate/invalidate-remote also over a partitioned or stalled link
//                    (on by default since the core handles it; kept for old replay lines)
//   --promote-during-handshake  promote while the connection is being set up (on by default)
//   --attach-during-handshake   attach a disk while the connection is being set up
//   --down-busy-secondary  take a protocol-B secondary down while its core has work
//                    (on by default since the core handles it; kept for old replay lines)
//   --volatile-cache disks lose completed but unflushed writes on a power cut
//   --check-determinism  run every seed twice and compare the trace hashes
//   --keep-going     report every failing seed of the range, not only the first
#include <malloc.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "simulation.h"

namespace {

void usage() {
  std::fprintf(
      stderr,
      "usage: tandem-sim [--seed N | --seeds FIRST:COUNT | --duration SECONDS]\n"
      "                  [--steps M] [--nodes 2|3] [--mode a|b|c|dual|any] [--trace]\n"
      "                  [--break-ack] [--break-activity-log]\n"
      "                  [--volatile-cache] [--crash-busy-primary] [--demote-busy-primary]\n"
      "                  [--attach-on-primary] [--strict-protocol-b] [--connect-while-down]\n"
      "                  [--crash-primary-in-metadata-write] [--invalidate-anytime]\n"
      "                  [--promote-during-handshake] [--attach-during-handshake]\n"
      "                  [--down-busy-secondary]\n"
      "                  [--check-determinism] [--keep-going]\n"
      "                  [--expect-failure-within N]\n");
}

bool parse_u64(const char* text, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') return false;
  out = v;
  return true;
}

// "mode c", or with three resources "modes r0 c, r1 a, r2 dual".
std::string modes_text(const tandem::sim::SimResult& r) {
  if (r.modes.size() <= 1) return std::string("mode ") + tandem::sim::mode_name(r.mode);
  std::string s = "modes";
  for (size_t i = 0; i < r.modes.size(); ++i) {
    s += (i == 0 ? " r" : ", r") + std::to_string(i) + " " + tandem::sim::mode_name(r.modes[i]);
  }
  return s;
}

void report_failure(const tandem::sim::SimOptions& o, const tandem::sim::SimResult& r) {
  std::printf("FAILED seed %llu (%s): %s\nlast trace events:\n",
              static_cast<unsigned long long>(o.seed), modes_text(r).c_str(), r.failure.c_str());
  for (const auto& line : r.last_trace) std::printf("  %s\n", line.c_str());
  std::printf("replay: %s\n", tandem::sim::replay_command(o).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  // The storage layer allocates its I/O buffers (up to a megabyte) per
  // metadata access; served from the heap instead of fresh mappings they
  // cost no page faults, which halves the simulator's CPU time.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  tandem::sim::SimOptions opt;
  // Fixed findings are part of every run (docs/simulation.md, "Findings").
  opt.connect_while_down = true;
  opt.promote_during_handshake = true;
  opt.strict_b = true;
  opt.crash_primary_in_md_write = true;
  opt.attach_during_handshake = true;
  opt.down_busy_secondary = true;
  opt.invalidate_anytime = true;
  uint64_t first = 1;
  uint64_t count = 1;
  uint64_t duration_s = 0;
  uint64_t expect_failure_within = 0;
  bool determinism = false;
  bool keep_going = false;
  uint64_t failures = 0;
  bool steps_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    uint64_t n = 0;
    if (a == "--seed" && v && parse_u64(v, n)) {
      first = n;
      ++i;
    } else if (a == "--seeds" && v && std::strchr(v, ':')) {
      std::string s = v;
      const size_t colon = s.find(':');
      if (!parse_u64(s.substr(0, colon).c_str(), first) ||
          !parse_u64(s.substr(colon + 1).c_str(), count)) {
        usage();
        return 2;
      }
      ++i;
    } else if (a == "--steps" && v && parse_u64(v, n)) {
      opt.steps = n;
      steps_given = true;
      ++i;
    } else if (a == "--nodes" && v && parse_u64(v, n)) {
      if (n != 2 && n != 3) {
        std::fprintf(stderr, "tandem-sim: --nodes takes 2 or 3 (got %llu)\n",
                     static_cast<unsigned long long>(n));
        return 2;
      }
      opt.nodes = static_cast<int>(n);
      ++i;
    } else if (a == "--duration" && v && parse_u64(v, n)) {
      duration_s = n;
      ++i;
    } else if (a == "--expect-failure-within" && v && parse_u64(v, n)) {
      expect_failure_within = n;
      count = n;
      ++i;
    } else if (a == "--mode" && v) {
      const std::string m = v;
      if (m == "a") {
        opt.mode = tandem::sim::Mode::kProtocolA;
      } else if (m == "b") {
        opt.mode = tandem::sim::Mode::kProtocolB;
      } else if (m == "c") {
        opt.mode = tandem::sim::Mode::kProtocolC;
      } else if (m == "dual") {
        opt.mode = tandem::sim::Mode::kDualPrimary;
      } else if (m != "any") {
        std::fprintf(stderr, "tandem-sim: --mode takes a, b, c, dual or any (got '%s')\n", v);
        return 2;
      }
      ++i;
    } else if (a == "--trace") {
      opt.print_trace = true;
    } else if (a == "--break-activity-log") {
      opt.break_activity_log = true;
    } else if (a == "--break-ack") {
      opt.break_ack = true;
    } else if (a == "--volatile-cache") {
      opt.volatile_cache = true;
    } else if (a == "--crash-busy-primary") {
      opt.crash_busy_primary = true;
    } else if (a == "--demote-busy-primary") {
      opt.demote_busy_primary = true;
    } else if (a == "--attach-on-primary") {
      opt.attach_on_primary = true;
    } else if (a == "--strict-protocol-b") {
      opt.strict_b = true;
    } else if (a == "--connect-while-down") {
      opt.connect_while_down = true;
      opt.promote_during_handshake = true;
    } else if (a == "--crash-primary-in-metadata-write") {
      opt.crash_primary_in_md_write = true;
    } else if (a == "--invalidate-anytime") {
      opt.invalidate_anytime = true;
    } else if (a == "--promote-during-handshake") {
      opt.promote_during_handshake = true;
    } else if (a == "--attach-during-handshake") {
      opt.attach_during_handshake = true;
    } else if (a == "--down-busy-secondary") {
      opt.down_busy_secondary = true;
    } else if (a == "--keep-going") {
      keep_going = true;
    } else if (a == "--check-determinism") {
      determinism = true;
    } else {
      std::fprintf(stderr, "tandem-sim: unknown or incomplete option '%s'\n", a.c_str());
      usage();
      return 2;
    }
  }

  // --steps counts the events of the whole cluster: three resources get
  // three times the default, so that each sees as many as a two-node run.
  if (opt.nodes == 3 && !steps_given) opt.steps *= 3;

  const auto start = std::chrono::steady_clock::now();
  uint64_t runs = 0, events = 0, sim_us = 0, acked = 0, crashes = 0;
  uint64_t per_mode[5] = {};
  for (uint64_t seed = first;; ++seed) {
    if (duration_s > 0) {
      const auto elapsed = std::chrono::steady_clock::now() - start;
      if (elapsed >= std::chrono::seconds(duration_s)) break;
    } else if (seed - first >= count) {
      break;
    }
    opt.seed = seed;
    const tandem::sim::SimResult r = tandem::sim::run_simulation(opt);
    ++runs;
    events += r.events;
    sim_us += r.sim_time_us;
    acked += r.acknowledged_writes;
    crashes += r.crashes;
    for (const tandem::sim::Mode m : r.modes) ++per_mode[static_cast<int>(m)];
    if (determinism) {
      const bool print = opt.print_trace;
      opt.print_trace = false;
      const tandem::sim::SimResult again = tandem::sim::run_simulation(opt);
      opt.print_trace = print;
      if (again.trace_hash != r.trace_hash || again.events != r.events) {
        std::printf("NOT DETERMINISTIC: seed %llu gave trace hashes %016llx and %016llx\n",
                    static_cast<unsigned long long>(seed),
                    static_cast<unsigned long long>(r.trace_hash),
                    static_cast<unsigned long long>(again.trace_hash));
        return 1;
      }
    }
    if (!r.ok) {
      report_failure(opt, r);
      if (expect_failure_within > 0) {
        std::printf("negative control: the checker caught the broken contract at seed %llu\n",
                    static_cast<unsigned long long>(seed));
        return 0;
      }
      if (!keep_going) return 1;
      ++failures;
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%llu runs passed: %llu events, %.1f simulated s (%.0f simulated s per real s), "
      "%llu acknowledged writes, %llu power cuts%s\n",
      static_cast<unsigned long long>(runs), static_cast<unsigned long long>(events),
      static_cast<double>(sim_us) / 1e6, wall > 0 ? static_cast<double>(sim_us) / 1e6 / wall : 0.0,
      static_cast<unsigned long long>(acked), static_cast<unsigned long long>(crashes),
      determinism ? ", every seed run twice with identical traces" : "");
  std::printf(
      "%s: protocol A %llu, B %llu, C %llu, dual-primary %llu\n",
      opt.nodes == 3 ? "resource modes" : "modes", static_cast<unsigned long long>(per_mode[1]),
      static_cast<unsigned long long>(per_mode[2]), static_cast<unsigned long long>(per_mode[3]),
      static_cast<unsigned long long>(per_mode[4]));
  if (failures > 0) {
    std::printf("%llu of %llu runs FAILED (see the replay lines above)\n",
                static_cast<unsigned long long>(failures), static_cast<unsigned long long>(runs));
    return 1;
  }
  if (expect_failure_within > 0) {
    std::printf("negative control FAILED: no seed of %llu caught the broken contract\n",
                static_cast<unsigned long long>(expect_failure_within));
    return 1;
  }
  return 0;
}
