// Attaching the kernel's nbd driver to a socket that tandem serves: /dev/nbdN
// then is a block device whose requests arrive on our NbdSession. Talks
// generic netlink (kernel_netlink.h) and blocks for at most a few seconds
// per call; the kernel does no I/O on the socket before the call returns.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace tandem::nbd {

struct KernelNbdConnect {
  std::string device;  // "/dev/nbdN"
  int socket_fd = -1;  // the kernel's end; the caller closes its copy after
  uint64_t size_bytes = 0;
  uint32_t block_size = 512;
  uint16_t transmission_flags = 0;  // what our session serves
};

// Fails with a message that says what is missing (the nbd module, the
// device) or why the kernel refused.
Result<void> kernel_nbd_connect(const KernelNbdConnect& c);
Result<void> kernel_nbd_disconnect(const std::string& device);

}  // namespace tandem::nbd
