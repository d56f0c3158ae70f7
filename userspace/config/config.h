// The resource configuration: tandem reads the drbd.conf language (DRBD 8.4
// semantics, DRBD 9 placement of options where drbdadm accepts it) and
// produces typed, validated, inheritance-resolved settings.
//
//   auto cfg = tandem::config::load_file("/etc/tandem/tandem.conf");
//   if (!cfg) { print cfg.error().message; exit 10; }
//   auto res = cfg->resolve("r0", "mail01");   // this host mail01, peers the rest
//   res->volumes()[0].disk_options.al_extents ...
//
// Every option carries its DRBD 8.4 default explicitly, so consumers never
// need to know which options the file spelled out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace tandem::config {

struct SourceLocation {
  std::string file;
  int line = 0;
  std::string to_string() const { return file + ":" + std::to_string(line); }
  bool operator==(const SourceLocation&) const = default;
};

enum class Protocol { kA, kB, kC };
enum class AfterSb0Pri {
  kDisconnect,
  kDiscardYoungerPrimary,
  kDiscardOlderPrimary,
  kDiscardZeroChanges,
  kDiscardLeastChanges,
  kDiscardLocal,
  kDiscardRemote,
  kDiscardNode,  // discard-node-NAME: NetOptions::after_sb_0pri_node
};
enum class AfterSb1Pri {
  kDisconnect,
  kConsensus,
  kViolentlyAs0p,
  kDiscardSecondary,
  kCallPriLostAfterSb,
};
enum class AfterSb2Pri { kDisconnect, kViolentlyAs0p, kCallPriLostAfterSb };
enum class RrConflict { kDisconnect, kCallPriLost, kViolently, kRetryConnect, kAutoDiscard };
enum class OnIoError { kPassOn, kCallLocalIoError, kDetach };
enum class Fencing { kDontCare, kResourceOnly, kResourceAndStonith };
enum class OnNoDataAccessible { kIoError, kSuspendIo };
enum class UsageCount { kYes, kNo, kAsk };
enum class AddressFamily { kIpv4, kIpv6 };

// The configuration-file spelling of each enum value ("discard-zero-changes").
std::string_view name(Protocol v);
std::string_view name(AfterSb0Pri v);
std::string_view name(AfterSb1Pri v);
std::string_view name(AfterSb2Pri v);
std::string_view name(RrConflict v);
std::string_view name(OnIoError v);
std::string_view name(Fencing v);
std::string_view name(OnNoDataAccessible v);
std::string_view name(UsageCount v);
std::string_view name(AddressFamily v);

// `global { }`.
struct GlobalOptions {
  UsageCount usage_count = UsageCount::kAsk;
  uint32_t minor_count = 32;
  uint32_t dialog_refresh = 1;  // seconds
  bool disable_ip_verification = false;
  bool udev_always_use_vnr = false;
  bool operator==(const GlobalOptions&) const = default;
};

// `net { }` (and the net options of an 8.3-style `syncer { }`).
struct NetOptions {
  Protocol protocol = Protocol::kC;
  bool allow_two_primaries = false;
  AfterSb0Pri after_sb_0pri = AfterSb0Pri::kDisconnect;
  std::string after_sb_0pri_node;  // the NAME of discard-node-NAME
  AfterSb1Pri after_sb_1pri = AfterSb1Pri::kDisconnect;
  AfterSb2Pri after_sb_2pri = AfterSb2Pri::kDisconnect;
  RrConflict rr_conflict = RrConflict::kDisconnect;
  std::string shared_secret;  // empty: no authentication
  std::string cram_hmac_alg;  // empty: none
  uint32_t ping_int = 10;     // seconds
  uint32_t ping_timeout = 5;  // tenths of a second
  uint32_t timeout = 60;      // tenths of a second
  uint32_t connect_int = 10;  // seconds
  uint32_t ko_count = 7;      // 0: never give up on a stalled peer
  uint32_t max_buffers = 2048;
  uint64_t sndbuf_size = 0;        // bytes, 0: kernel autotuning
  uint64_t rcvbuf_size = 0;        // bytes, 0: kernel autotuning
  std::string verify_alg;          // empty: online verify disabled
  std::string csums_alg;           // empty: no checksum-based resync
  std::string data_integrity_alg;  // empty: none
  bool operator==(const NetOptions&) const = default;
};

// `disk { }` (and the disk options of `syncer { }`).
struct DiskOptions {
  OnIoError on_io_error = OnIoError::kDetach;
  Fencing fencing = Fencing::kDontCare;
  bool disk_barrier = false;
  bool disk_flushes = true;
  bool disk_drain = true;
  bool md_flushes = true;
  uint32_t al_extents = 1237;
  uint32_t resync_rate = 250;    // KiB/s
  uint32_t c_plan_ahead = 20;    // tenths of a second, 0: fixed resync-rate
  uint32_t c_fill_target = 100;  // 512-byte sectors
  uint32_t c_delay_target = 10;  // tenths of a second
  uint32_t c_max_rate = 102400;  // KiB/s
  uint32_t c_min_rate = 250;     // KiB/s
  std::string resync_after;      // resource name; empty: none
  bool operator==(const DiskOptions&) const = default;
};

// `startup { }`.
struct StartupOptions {
  uint32_t wfc_timeout = 0;           // seconds, 0: wait forever
  uint32_t degr_wfc_timeout = 0;      // seconds
  uint32_t outdated_wfc_timeout = 0;  // seconds
  bool wait_after_sb = false;
  // Host names, or the single word "both".
  std::vector<std::string> become_primary_on;
  bool become_primary_on_both() const {
    return become_primary_on.size() == 1 && become_primary_on[0] == "both";
  }
  bool operator==(const StartupOptions&) const = default;
};

// `options { }`.
struct ResourceOptions {
  std::string cpu_mask;  // empty: default
  OnNoDataAccessible on_no_data_accessible = OnNoDataAccessible::kIoError;
  bool operator==(const ResourceOptions&) const = default;
};

// `handlers { }`: handler name ("split-brain", "fence-peer", ...) -> command.
using Handlers = std::map<std::string, std::string>;

// A TCP address an NBD frontend listens on (numeric; "0.0.0.0" or "::" for
// every address).
struct ListenAddress {
  AddressFamily family = AddressFamily::kIpv4;
  std::string host;  // canonical numeric spelling, without brackets
  uint16_t port = 0;
  bool operator==(const ListenAddress&) const = default;
};

// `device` selects the frontends that show the volume to programs and to
// the kernel (config/device_statement.h has the grammar). The NBD unix
// socket RUN_DIR/RESOURCE.nbd is always served; a DRBD-style /dev/drbdN
// adds nothing to it and carries a minor number so that old files load.
struct Device {
  std::string path;  // "/dev/drbd0"; empty when frontends are named
  uint32_t minor = 0;
  bool has_minor = true;  // false when frontends are named

  bool nbd = false;  // the `nbd` clause was written
  std::optional<ListenAddress> nbd_tcp;
  std::string nbd_kernel_device;  // "/dev/nbdN": attach the kernel nbd driver
  bool fuse = false;
  std::string fuse_mount;  // empty: RUN_DIR/RESOURCE.fuse
  bool ublk = false;
  std::optional<uint32_t> ublk_id;  // none: the kernel picks
  bool operator==(const Device&) const = default;
};

// `meta-disk internal;` or `meta-disk PATH [INDEX];`.
struct MetaDisk {
  bool internal = true;
  std::string path;               // external metadata device when !internal
  std::optional<uint32_t> index;  // fixed-size external slot; none: flexible
  bool operator==(const MetaDisk&) const = default;
};

struct Address {
  AddressFamily family = AddressFamily::kIpv4;
  std::string host;  // numeric address, without brackets
  uint16_t port = 0;
  // "ipv4 10.0.0.1:7789" / "ipv6 [fd00::1]:7789", as written in a config file.
  std::string to_string() const;
  bool operator==(const Address&) const = default;
};

struct ResolvedVolume {
  uint32_t number = 0;
  Device device;
  std::string disk;  // backing device path
  MetaDisk meta_disk;
  DiskOptions disk_options;  // effective disk options of this volume
  bool operator==(const ResolvedVolume&) const = default;
};

// One `on` (or `floating`) section of a resource. The address and node id
// belong to the host, shared by all of its volumes (as in DRBD 8.4: one
// connection per resource).
struct ResolvedHost {
  std::vector<std::string> names;  // every name of the section (`on a b { }`)
  bool floating = false;           // `floating ADDR { }`: names = {address host}
  Address address;
  std::optional<uint32_t> node_id;
  std::vector<ResolvedVolume> volumes;  // sorted by number
  SourceLocation location;
  bool operator==(const ResolvedHost&) const = default;
};

// A resource as seen from one host: every option explicit, inheritance
// (common -> resource -> host/volume) applied.
struct ResolvedResource {
  std::string name;
  NetOptions net;
  DiskOptions disk;  // resource-level disk options (volumes may override)
  StartupOptions startup;
  Handlers handlers;
  ResourceOptions options;
  ResolvedHost this_host;
  std::vector<ResolvedHost> peers;
  SourceLocation location;

  Protocol protocol() const { return net.protocol; }
  const std::vector<ResolvedVolume>& volumes() const { return this_host.volumes; }
  bool operator==(const ResolvedResource&) const = default;
};

// A resource with all its hosts (resolved, validated).
struct ResourceConfig {
  std::string name;
  NetOptions net;
  DiskOptions disk;
  StartupOptions startup;
  Handlers handlers;
  ResourceOptions options;
  std::vector<ResolvedHost> hosts;  // in file order
  SourceLocation location;
  bool operator==(const ResourceConfig&) const = default;
};

class Config {
 public:
  Config() = default;
  Config(GlobalOptions global, std::vector<ResourceConfig> resources)
      : global_(std::move(global)), resources_(std::move(resources)) {}

  const GlobalOptions& global() const { return global_; }
  const std::vector<ResourceConfig>& resources() const { return resources_; }
  std::vector<std::string> resource_names() const;
  const ResourceConfig* find(std::string_view resource) const;

  // The resource as seen from `host` (a name of one of its `on` sections or
  // the address of a `floating` section). Fails, naming the hosts that
  // exist, when the resource or the host is unknown.
  Result<ResolvedResource> resolve(std::string_view resource, std::string_view host) const;

  bool operator==(const Config&) const = default;

 private:
  GlobalOptions global_;
  std::vector<ResourceConfig> resources_;
};

// Parses `path` (following `include` globs relative to its directory),
// validates everything and resolves inheritance. Errors name file:line and
// say what to do.
Result<Config> load_file(const std::string& path);

// Same for text held in memory; `name` is used as the file name in errors
// and as the base for relative includes (its directory).
Result<Config> load_string(std::string_view text, const std::string& name);

}  // namespace tandem::config
