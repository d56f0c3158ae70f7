// Hard limits on configuration input. A configuration is written by an
// administrator, but tandem also parses files it did not write (fuzzers,
// copied configs); these bounds keep a hostile or broken file from
// exhausting memory or stack.
#pragma once

#include <cstddef>

namespace tandem::config::limits {

inline constexpr std::size_t kMaxFileBytes = 1 << 20;    // one file
inline constexpr std::size_t kMaxTotalBytes = 16 << 20;  // all files of one load
// drbdadm's limits for one token, kept so that both tools read the same
// files: an unquoted word up to 128 bytes, a quoted string up to 255.
inline constexpr std::size_t kMaxWordBytes = 128;
inline constexpr std::size_t kMaxStringBytes = 255;
inline constexpr std::size_t kMaxNesting = 8;          // nested { } blocks
inline constexpr std::size_t kMaxArgs = 64;            // words after a keyword
inline constexpr std::size_t kMaxIncludeDepth = 8;     // include inside include ...
inline constexpr std::size_t kMaxIncludedFiles = 256;  // files per load
inline constexpr std::size_t kMaxResources = 4096;
inline constexpr std::size_t kMaxHostsPerResource = 32;
inline constexpr std::size_t kMaxVolumesPerResource = 256;
inline constexpr std::size_t kMaxErrors = 20;             // reported per load
inline constexpr std::size_t kMaxSharedSecretBytes = 64;  // as DRBD
inline constexpr std::size_t kMaxNameBytes = 128;         // resource/host names

}  // namespace tandem::config::limits
