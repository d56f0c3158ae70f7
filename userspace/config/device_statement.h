// The `device` statement of a volume: which frontends show the volume to
// programs and to the kernel.
//
//   device /dev/drbdN [minor N];        DRBD spelling, kept so that existing
//   device /dev/drbd_NAME minor N;      files load: the default frontends
//   device minor N;
//   device nbd [ADDR:PORT] [/dev/nbdN] [fuse [PATH]] [ublk [ID]];
//
// After `device` come frontend clauses in any order, each at most once:
//   nbd [ADDR:PORT] [/dev/nbdN]  also listen on TCP (IPv6 as [ADDR]:PORT),
//                                and/or attach the kernel nbd driver
//   fuse [PATH]                  one file named after the resource in a FUSE
//                                mount at PATH (default RUN_DIR/RESOURCE.fuse)
//   ublk [ID]                    /dev/ublkbID (default: the kernel picks)
// The NBD unix socket RUN_DIR/RESOURCE.nbd is always served.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "config/syntax_tree.h"

namespace tandem::config {

inline constexpr const char* kDeviceNbd = "nbd";
inline constexpr const char* kDeviceFuse = "fuse";
inline constexpr const char* kDeviceUblk = "ublk";
// Largest ublk device id the kernel accepts (UBLK_MAX_UBLKS - 1).
inline constexpr uint32_t kMaxUblkId = (1u << 20) - 1;

// Parses the arguments of a `device` statement. The error says what to
// write, without a location (the caller adds file:line).
Result<Device> parse_device(const std::vector<Argument>& args);

// The statement's arguments in canonical form, e.g. "/dev/drbd0 minor 0" or
// "nbd 127.0.0.1:10809 fuse ublk"; parse_device() reads it back unchanged.
std::string device_text(const Device& device);

// "HOST:PORT" or "[HOST]:PORT" of an NBD TCP listen address.
std::string listen_address_text(const ListenAddress& address);

}  // namespace tandem::config
