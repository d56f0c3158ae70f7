// Constants of the NBD protocol (fixed newstyle negotiation and the
// transmission phase with simple replies). Every value here is sent in
// big-endian byte order on the wire.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tandem::nbd {

// Handshake magics.
inline constexpr uint64_t kInitMagic = 0x4e42444d41474943ULL;    // "NBDMAGIC"
inline constexpr uint64_t kOptionMagic = 0x49484156454f5054ULL;  // "IHAVEOPT"
inline constexpr uint64_t kOptionReplyMagic = 0x0003e889045565a9ULL;

// Handshake flags (server) and client flags.
inline constexpr uint16_t kFlagFixedNewstyle = 1u << 0;
inline constexpr uint16_t kFlagNoZeroes = 1u << 1;
inline constexpr uint32_t kClientFlagFixedNewstyle = 1u << 0;
inline constexpr uint32_t kClientFlagNoZeroes = 1u << 1;

// Options.
inline constexpr uint32_t kOptExportName = 1;
inline constexpr uint32_t kOptAbort = 2;
inline constexpr uint32_t kOptList = 3;
inline constexpr uint32_t kOptStartTls = 5;
inline constexpr uint32_t kOptInfo = 6;
inline constexpr uint32_t kOptGo = 7;
inline constexpr uint32_t kOptStructuredReply = 8;

// Option replies. Errors have bit 31 set.
inline constexpr uint32_t kRepAck = 1;
inline constexpr uint32_t kRepServer = 2;
inline constexpr uint32_t kRepInfo = 3;
inline constexpr uint32_t kRepErrUnsup = 0x80000001u;
inline constexpr uint32_t kRepErrInvalid = 0x80000003u;
inline constexpr uint32_t kRepErrUnknown = 0x80000006u;

// Information types in NBD_REP_INFO.
inline constexpr uint16_t kInfoExport = 0;
inline constexpr uint16_t kInfoName = 1;
inline constexpr uint16_t kInfoDescription = 2;
inline constexpr uint16_t kInfoBlockSize = 3;

// Transmission flags.
inline constexpr uint16_t kTxHasFlags = 1u << 0;
inline constexpr uint16_t kTxReadOnly = 1u << 1;
inline constexpr uint16_t kTxSendFlush = 1u << 2;
inline constexpr uint16_t kTxSendFua = 1u << 3;
inline constexpr uint16_t kTxSendTrim = 1u << 5;
inline constexpr uint16_t kTxSendWriteZeroes = 1u << 6;
inline constexpr uint16_t kTxSendDf = 1u << 7;
inline constexpr uint16_t kTxCanMultiConn = 1u << 8;

// Transmission phase.
inline constexpr uint32_t kRequestMagic = 0x25609513u;
inline constexpr uint32_t kSimpleReplyMagic = 0x67446698u;
inline constexpr uint32_t kStructuredReplyMagic = 0x668e33efu;

inline constexpr uint16_t kReplyFlagDone = 1u << 0;
inline constexpr uint16_t kReplyTypeNone = 0;
inline constexpr uint16_t kReplyTypeOffsetData = 1;
inline constexpr uint16_t kReplyTypeError = 0x8001;

inline constexpr uint16_t kCmdRead = 0;
inline constexpr uint16_t kCmdWrite = 1;
inline constexpr uint16_t kCmdDisc = 2;
inline constexpr uint16_t kCmdFlush = 3;
inline constexpr uint16_t kCmdTrim = 4;
inline constexpr uint16_t kCmdWriteZeroes = 6;

inline constexpr uint16_t kCmdFlagFua = 1u << 0;
inline constexpr uint16_t kCmdFlagNoHole = 1u << 1;
inline constexpr uint16_t kCmdFlagDf = 1u << 2;

// Error values of the reply (the protocol fixes these numbers; they happen
// to equal Linux errno values).
inline constexpr uint32_t kErrPerm = 1;
inline constexpr uint32_t kErrIo = 5;
inline constexpr uint32_t kErrNoMem = 12;
inline constexpr uint32_t kErrInval = 22;
inline constexpr uint32_t kErrNoSpc = 28;
inline constexpr uint32_t kErrOverflow = 75;
inline constexpr uint32_t kErrNotSup = 95;
inline constexpr uint32_t kErrShutdown = 108;

// Sizes of fixed parts.
inline constexpr size_t kOptionHeaderBytes = 16;     // magic, option, length
inline constexpr size_t kRequestHeaderBytes = 28;    // magic, flags, type, cookie, offset, length
inline constexpr size_t kSimpleReplyBytes = 16;      // magic, error, cookie
inline constexpr size_t kStructuredReplyBytes = 20;  // magic, flags, type, cookie, length
inline constexpr size_t kExportNameZeroes = 124;

// Limits this server enforces on what it reads from the wire.
inline constexpr uint32_t kMaxStringBytes = 4096;  // export names, per the protocol
inline constexpr uint32_t kMaxOptionBytes = 8192;  // option data: a name plus a few fields
inline constexpr uint32_t kMaxOptionsPerHandshake = 256;
inline constexpr uint32_t kMaxPayloadBytes = 32u << 20;  // read/write length (32 MiB)

// Maps a local errno to an error value allowed on the wire.
uint32_t to_wire_error(int err);

const char* command_name(uint16_t type);

// Text of an errno, safe to call from any thread (strerror is not).
std::string errno_text(int err);
const char* option_name(uint32_t option);

}  // namespace tandem::nbd
