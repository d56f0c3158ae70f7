// Configuration-file spellings of the option enums.
#include "config/config.h"

namespace tandem::config {

std::string_view name(Protocol v) {
  switch (v) {
    case Protocol::kA:
      return "A";
    case Protocol::kB:
      return "B";
    case Protocol::kC:
      return "C";
  }
  return "?";
}

std::string_view name(AfterSb0Pri v) {
  switch (v) {
    case AfterSb0Pri::kDisconnect:
      return "disconnect";
    case AfterSb0Pri::kDiscardYoungerPrimary:
      return "discard-younger-primary";
    case AfterSb0Pri::kDiscardOlderPrimary:
      return "discard-older-primary";
    case AfterSb0Pri::kDiscardZeroChanges:
      return "discard-zero-changes";
    case AfterSb0Pri::kDiscardLeastChanges:
      return "discard-least-changes";
    case AfterSb0Pri::kDiscardLocal:
      return "discard-local";
    case AfterSb0Pri::kDiscardRemote:
      return "discard-remote";
    case AfterSb0Pri::kDiscardNode:
      return "discard-node-";
  }
  return "?";
}

std::string_view name(AfterSb1Pri v) {
  switch (v) {
    case AfterSb1Pri::kDisconnect:
      return "disconnect";
    case AfterSb1Pri::kConsensus:
      return "consensus";
    case AfterSb1Pri::kViolentlyAs0p:
      return "violently-as0p";
    case AfterSb1Pri::kDiscardSecondary:
      return "discard-secondary";
    case AfterSb1Pri::kCallPriLostAfterSb:
      return "call-pri-lost-after-sb";
  }
  return "?";
}

std::string_view name(AfterSb2Pri v) {
  switch (v) {
    case AfterSb2Pri::kDisconnect:
      return "disconnect";
    case AfterSb2Pri::kViolentlyAs0p:
      return "violently-as0p";
    case AfterSb2Pri::kCallPriLostAfterSb:
      return "call-pri-lost-after-sb";
  }
  return "?";
}

std::string_view name(RrConflict v) {
  switch (v) {
    case RrConflict::kDisconnect:
      return "disconnect";
    case RrConflict::kCallPriLost:
      return "call-pri-lost";
    case RrConflict::kViolently:
      return "violently";
    case RrConflict::kRetryConnect:
      return "retry-connect";
    case RrConflict::kAutoDiscard:
      return "auto-discard";
  }
  return "?";
}

std::string_view name(OnIoError v) {
  switch (v) {
    case OnIoError::kPassOn:
      return "pass_on";
    case OnIoError::kCallLocalIoError:
      return "call-local-io-error";
    case OnIoError::kDetach:
      return "detach";
  }
  return "?";
}

std::string_view name(Fencing v) {
  switch (v) {
    case Fencing::kDontCare:
      return "dont-care";
    case Fencing::kResourceOnly:
      return "resource-only";
    case Fencing::kResourceAndStonith:
      return "resource-and-stonith";
  }
  return "?";
}

std::string_view name(OnNoDataAccessible v) {
  switch (v) {
    case OnNoDataAccessible::kIoError:
      return "io-error";
    case OnNoDataAccessible::kSuspendIo:
      return "suspend-io";
  }
  return "?";
}

std::string_view name(UsageCount v) {
  switch (v) {
    case UsageCount::kYes:
      return "yes";
    case UsageCount::kNo:
      return "no";
    case UsageCount::kAsk:
      return "ask";
  }
  return "?";
}

std::string_view name(AddressFamily v) {
  switch (v) {
    case AddressFamily::kIpv4:
      return "ipv4";
    case AddressFamily::kIpv6:
      return "ipv6";
  }
  return "?";
}

std::string Address::to_string() const {
  const std::string fam(name(family));
  if (family == AddressFamily::kIpv6) {
    return fam + " [" + host + "]:" + std::to_string(port);
  }
  return fam + " " + host + ":" + std::to_string(port);
}

}  // namespace tandem::config
