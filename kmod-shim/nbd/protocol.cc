#include "nbd/protocol.h"

#include <cerrno>
#include <cstring>

namespace tandem::nbd {

uint32_t to_wire_error(int err) {
  switch (err) {
    case 0:
      return 0;
    case EPERM:
    case EROFS:
    case EACCES:
      return kErrPerm;
    case ENOMEM:
      return kErrNoMem;
    case EINVAL:
      return kErrInval;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return kErrNoSpc;
    case EOVERFLOW:
      return kErrOverflow;
    case ENOTSUP:
      return kErrNotSup;
    case ESHUTDOWN:
      return kErrShutdown;
    default:
      // The protocol allows only a few values; everything else is an I/O
      // failure as far as the client can act on it.
      return kErrIo;
  }
}

std::string errno_text(int err) {
  const char* text = ::strerrordesc_np(err);
  return text != nullptr ? text : "error " + std::to_string(err);
}

const char* command_name(uint16_t type) {
  switch (type) {
    case kCmdRead:
      return "NBD_CMD_READ";
    case kCmdWrite:
      return "NBD_CMD_WRITE";
    case kCmdDisc:
      return "NBD_CMD_DISC";
    case kCmdFlush:
      return "NBD_CMD_FLUSH";
    case kCmdTrim:
      return "NBD_CMD_TRIM";
    case kCmdWriteZeroes:
      return "NBD_CMD_WRITE_ZEROES";
    default:
      return "unknown command";
  }
}

const char* option_name(uint32_t option) {
  switch (option) {
    case kOptExportName:
      return "NBD_OPT_EXPORT_NAME";
    case kOptAbort:
      return "NBD_OPT_ABORT";
    case kOptList:
      return "NBD_OPT_LIST";
    case kOptStartTls:
      return "NBD_OPT_STARTTLS";
    case kOptInfo:
      return "NBD_OPT_INFO";
    case kOptGo:
      return "NBD_OPT_GO";
    case kOptStructuredReply:
      return "NBD_OPT_STRUCTURED_REPLY";
    default:
      return "unknown option";
  }
}

}  // namespace tandem::nbd
