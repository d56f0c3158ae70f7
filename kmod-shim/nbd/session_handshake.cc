// NbdSession, handshake phase: fixed newstyle negotiation.
#include <cinttypes>
#include <cstdio>
#include <string>

#include "common/byte_order.h"
#include "common/log.h"
#include "nbd/protocol.h"
#include "nbd/session.h"

namespace tandem::nbd {

namespace {

std::string as_text(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Export names are strings: at most 4096 bytes and no NUL.
bool valid_name(std::span<const std::byte> bytes) {
  if (bytes.size() > kMaxStringBytes) return false;
  for (std::byte b : bytes) {
    if (b == std::byte{0}) return false;
  }
  return true;
}

// Names quoted in messages and logs are cut short so that a hostile name
// cannot flood the log.
std::string quoted(std::string_view name) {
  constexpr size_t kShown = 64;
  std::string out = "'";
  out += name.substr(0, kShown);
  if (name.size() > kShown) out += "...";
  out += "'";
  return out;
}

}  // namespace

void NbdSession::send_greeting() {
  std::vector<std::byte> out;
  put_u64(out, kInitMagic);
  put_u64(out, kOptionMagic);
  put_u16(out, kFlagFixedNewstyle | kFlagNoZeroes);
  emit(std::move(out));
}

void NbdSession::on_client_flags(std::span<const std::byte> bytes) {
  const uint32_t flags = get_u32(bytes, 0);
  constexpr uint32_t kKnown = kClientFlagFixedNewstyle | kClientFlagNoZeroes;
  if ((flags & ~kKnown) != 0) {
    char text[96];
    std::snprintf(text, sizeof text, "client flags 0x%08" PRIx32 " contain unknown bits", flags);
    close(text, true);
    return;
  }
  no_zeroes_ = (flags & kClientFlagNoZeroes) != 0;
  input_ = Input::kOptionHeader;
}

void NbdSession::on_option_header(std::span<const std::byte> bytes) {
  const uint64_t magic = get_u64(bytes, 0);
  const uint32_t option = get_u32(bytes, 8);
  const uint32_t length = get_u32(bytes, 12);
  if (magic != kOptionMagic) {
    char text[96];
    std::snprintf(text, sizeof text, "bad option magic 0x%016" PRIx64 " (expected IHAVEOPT)",
                  magic);
    close(text, true);
    return;
  }
  if (++options_seen_ > kMaxOptionsPerHandshake) {
    close("more than " + std::to_string(kMaxOptionsPerHandshake) + " options in one handshake",
          true);
    return;
  }
  if (length > kMaxOptionBytes) {
    close(std::string(option_name(option)) + " (" + std::to_string(option) + ") carries " +
              std::to_string(length) + " bytes of data; the limit is " +
              std::to_string(kMaxOptionBytes),
          true);
    return;
  }
  pending_option_ = option;
  pending_option_length_ = length;
  input_ = Input::kOptionData;
}

void NbdSession::on_option(uint32_t option, std::span<const std::byte> data) {
  switch (option) {
    case kOptExportName:
      on_export_name(data);
      return;
    case kOptAbort:
      // Data is to be ignored here, per the protocol.
      send_option_reply(option, kRepAck, {});
      close("client aborted the negotiation", false);
      return;
    case kOptList:
      on_list(data);
      return;
    case kOptInfo:
    case kOptGo:
      on_info_or_go(option, data);
      return;
    case kOptStructuredReply:
      if (!data.empty()) {
        send_option_error(option, kRepErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data");
        return;
      }
      structured_ = true;
      send_option_reply(option, kRepAck, {});
      return;
    case kOptStartTls:
      send_option_error(option, kRepErrUnsup, "TLS is not supported by this server");
      return;
    default:
      send_option_error(option, kRepErrUnsup,
                        "option " + std::to_string(option) + " is not supported by this server");
      return;
  }
}

std::optional<size_t> NbdSession::find_export(std::string_view name) const {
  for (size_t i = 0; i < exports_.size(); ++i) {
    if (exports_[i].name == name) return i;
  }
  if (name.empty()) return 0;  // the default export
  return std::nullopt;
}

uint16_t NbdSession::transmission_flags(const ExportInfo& e) const {
  uint16_t flags = kTxHasFlags | kTxSendFlush | kTxSendFua | kTxSendTrim | kTxSendWriteZeroes;
  if (e.read_only) flags |= kTxReadOnly;
  if (e.can_multi_conn) flags |= kTxCanMultiConn;
  if (structured_) flags |= kTxSendDf;
  return flags;
}

void NbdSession::on_export_name(std::span<const std::byte> data) {
  if (!valid_name(data)) {
    close("NBD_OPT_EXPORT_NAME carries an invalid export name (NUL byte or longer than 4096)",
          true);
    return;
  }
  const std::string name = as_text(data);
  const auto index = find_export(name);
  if (!index) {
    // This option cannot return an error: the protocol says to disconnect.
    close("client asked for unknown export " + quoted(name) +
              " with NBD_OPT_EXPORT_NAME; NBD_OPT_LIST shows the exports",
          true);
    return;
  }
  const ExportInfo& e = exports_[*index];
  std::vector<std::byte> out;
  put_u64(out, e.size);
  put_u16(out, transmission_flags(e));
  if (!no_zeroes_) out.resize(out.size() + kExportNameZeroes, std::byte{0});
  emit(std::move(out));
  enter_transmission(*index);
}

void NbdSession::on_list(std::span<const std::byte> data) {
  if (!data.empty()) {
    send_option_error(kOptList, kRepErrInvalid, "NBD_OPT_LIST takes no data");
    return;
  }
  for (const ExportInfo& e : exports_) {
    std::vector<std::byte> reply;
    put_u32(reply, static_cast<uint32_t>(e.name.size()));
    put_text(reply, e.name);
    put_text(reply, e.description);
    send_option_reply(kOptList, kRepServer, reply);
  }
  send_option_reply(kOptList, kRepAck, {});
}

void NbdSession::on_info_or_go(uint32_t option, std::span<const std::byte> data) {
  const char* what = option_name(option);
  // Layout: u32 name length, name, u16 request count, u16 requests[count].
  if (data.size() < 6) {
    send_option_error(option, kRepErrInvalid, std::string(what) + " data is too short");
    return;
  }
  const uint32_t name_length = get_u32(data, 0);
  if (name_length > data.size() - 6) {
    send_option_error(option, kRepErrInvalid,
                      std::string(what) + " name length exceeds the option data");
    return;
  }
  const auto name_bytes = data.subspan(4, name_length);
  const uint16_t count = get_u16(data, 4 + size_t{name_length});
  if (data.size() != 4 + size_t{name_length} + 2 + 2 * size_t{count}) {
    send_option_error(option, kRepErrInvalid,
                      std::string(what) + " information request count does not match its length");
    return;
  }
  if (!valid_name(name_bytes)) {
    send_option_error(option, kRepErrInvalid,
                      "export name contains a NUL byte or is longer than 4096 bytes");
    return;
  }
  bool want_name = false;
  bool want_description = false;
  for (size_t i = 0; i < count; ++i) {
    const uint16_t type = get_u16(data, 4 + size_t{name_length} + 2 + 2 * i);
    if (type == kInfoName) want_name = true;
    if (type == kInfoDescription) want_description = true;
    // Unknown requests are ignored, as the protocol requires.
  }
  const std::string name = as_text(name_bytes);
  const auto index = find_export(name);
  if (!index) {
    send_option_error(option, kRepErrUnknown,
                      "no export named " + quoted(name) +
                          " on this server; NBD_OPT_LIST shows "
                          "the exports");
    return;
  }
  const ExportInfo& e = exports_[*index];

  std::vector<std::byte> info;
  put_u16(info, kInfoExport);
  put_u64(info, e.size);
  put_u16(info, transmission_flags(e));
  send_option_reply(option, kRepInfo, info);

  // Block sizes are always announced: a client that did not ask ignores
  // them, and a client that did learns the limits this server enforces.
  info.clear();
  put_u16(info, kInfoBlockSize);
  put_u32(info, e.limits.minimum);
  put_u32(info, e.limits.preferred);
  put_u32(info, e.limits.maximum);
  send_option_reply(option, kRepInfo, info);

  if (want_name) {
    info.clear();
    put_u16(info, kInfoName);
    put_text(info, e.name);
    send_option_reply(option, kRepInfo, info);
  }
  if (want_description && !e.description.empty()) {
    info.clear();
    put_u16(info, kInfoDescription);
    put_text(info, e.description);
    send_option_reply(option, kRepInfo, info);
  }
  send_option_reply(option, kRepAck, {});
  if (option == kOptGo) enter_transmission(*index);
}

void NbdSession::send_option_reply(uint32_t option, uint32_t type,
                                   std::span<const std::byte> data) {
  std::vector<std::byte> out;
  out.reserve(20 + data.size());
  put_u64(out, kOptionReplyMagic);
  put_u32(out, option);
  put_u32(out, type);
  put_u32(out, static_cast<uint32_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
  emit(std::move(out));
}

void NbdSession::send_option_error(uint32_t option, uint32_t type, const std::string& message) {
  TLOG(LOG_DEBUG, "nbd: %s: %s refused: %s", peer_.c_str(), option_name(option), message.c_str());
  std::vector<std::byte> text;
  put_text(text, message);
  send_option_reply(option, type, text);
}

void NbdSession::enter_transmission(size_t index) {
  export_index_ = index;
  phase_ = Phase::kTransmission;
  input_ = Input::kRequestHeader;
  const ExportInfo& e = exports_[index];
  TLOG(LOG_INFO, "nbd: %s uses export %s (%llu bytes, %s)", peer_.c_str(), quoted(e.name).c_str(),
       static_cast<unsigned long long>(e.size), e.read_only ? "read-only" : "read-write");
}

void NbdSession::skip_handshake(size_t index) {
  if (phase_ != Phase::kHandshake || input_ != Input::kClientFlags || buffered() != 0) return;
  if (index >= exports_.size()) {
    close("no export " + std::to_string(index) + " to serve without a handshake", false);
    return;
  }
  output_.clear();  // the greeting nobody will read
  enter_transmission(index);
}

}  // namespace tandem::nbd
