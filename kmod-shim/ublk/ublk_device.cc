#include "ublk/ublk_device.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "ublk/ublk_protocol.h"

namespace tandem::ublk {

namespace {

constexpr const char* kControlPath = "/dev/ublk-control";
constexpr uint64_t kStartTag = 1;
constexpr uint64_t kStopTag = 2;
constexpr uint64_t kSyncTag = 3;

std::string errno_text(int err) {
  return std::strerror(err);
}

io_uring_sqe* next_sqe(io_uring& ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (sqe == nullptr) {
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
  }
  return sqe;
}

// A URING_CMD SQE (128 bytes: the command area holds up to 80 bytes).
template <typename Command>
bool prep_command(io_uring& ring, int fd, uint32_t op, const Command& cmd, uint64_t data) {
  static_assert(sizeof(Command) <= 80);
  io_uring_sqe* sqe = next_sqe(ring);
  if (sqe == nullptr) return false;  // the ring is full even after submitting
  std::memset(static_cast<void*>(sqe), 0, sizeof *sqe);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = fd;
  sqe->cmd_op = op;
  std::memcpy(sqe->cmd, &cmd, sizeof cmd);  // past the 64-byte SQE: SQE128 ring
  sqe->user_data = data;
  return true;
}

}  // namespace

Result<std::unique_ptr<UblkDevice>> UblkDevice::create(UblkOptions options, Submit submit) {
  const std::string who = options.who;
  if (access(kControlPath, F_OK) != 0) {
    return make_error(who + ": cannot create a ublk device: " + kControlPath +
                      " is missing; load the ublk_drv kernel module (modprobe ublk_drv; Linux 6.0 "
                      "or later), or choose another frontend in the device line");
  }
  std::unique_ptr<UblkDevice> d(new UblkDevice(std::move(options), std::move(submit)));
  const UblkOptions& o = d->options_;
  d->control_fd_ = open(kControlPath, O_RDWR | O_CLOEXEC);
  if (d->control_fd_ < 0) {
    return make_error(who + ": cannot open " + kControlPath + ": " + errno_text(errno) +
                      " (tandemd must run as root)");
  }
  if (int r = io_uring_queue_init(8, &d->control_, IORING_SETUP_SQE128); r < 0) {
    return make_error(who + ": io_uring with 128-byte SQEs for ublk: " + errno_text(-r));
  }
  d->control_ready_ = true;

  ublksrv_ctrl_dev_info info =
      device_info(o.dev_id.value_or(kAnyDevice), o.depth, o.max_io_bytes, getpid());
  if (auto r = d->control_sync(UBLK_CMD_ADD_DEV, control_command(info.dev_id, &info, sizeof info),
                               "ADD_DEV");
      !r) {
    return r.error();
  }
  d->dev_id_ = info.dev_id;
  d->added_ = true;
  ublk_params params = device_params(o.size_bytes, o.max_io_bytes);
  if (auto r = d->control_sync(UBLK_CMD_SET_PARAMS,
                               control_command(d->dev_id_, &params, sizeof params), "SET_PARAMS");
      !r) {
    return r.error();
  }

  const std::string char_path = "/dev/ublkc" + std::to_string(d->dev_id_);
  for (int i = 0; i < 50 && d->char_fd_ < 0; ++i) {
    d->char_fd_ = open(char_path.c_str(), O_RDWR | O_CLOEXEC);
    if (d->char_fd_ < 0 && errno == ENOENT) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // udev creates it
    } else if (d->char_fd_ < 0) {
      break;
    }
  }
  if (d->char_fd_ < 0) {
    return make_error(who + ": cannot open " + char_path + ": " + errno_text(errno));
  }
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  d->descriptors_length_ = (descriptor_bytes(o.depth) + page - 1) / page * page;
  void* desc = mmap(nullptr, d->descriptors_length_, PROT_READ, MAP_SHARED | MAP_POPULATE,
                    d->char_fd_, UBLKSRV_CMD_BUF_OFFSET);
  if (desc == MAP_FAILED) {
    return make_error(who + ": cannot map the request descriptors of " + char_path + ": " +
                      errno_text(errno));
  }
  d->descriptors_ = static_cast<const ublksrv_io_desc*>(desc);
  d->buffers_length_ = size_t{o.depth} * o.max_io_bytes;
  void* bufs =
      mmap(nullptr, d->buffers_length_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (bufs == MAP_FAILED) {
    return make_error(who + ": cannot allocate ublk buffers: " + errno_text(errno));
  }
  d->buffers_ = static_cast<std::byte*>(bufs);
  if (int r = io_uring_queue_init(o.depth, &d->queue_, IORING_SETUP_SQE128); r < 0) {
    return make_error(who + ": io_uring for the ublk queue: " + errno_text(-r));
  }
  d->queue_ready_ = true;
  d->in_flight_.assign(o.depth, false);
  for (uint16_t tag = 0; tag < o.depth; ++tag) d->queue_command(UBLK_IO_FETCH_REQ, tag, -1);
  io_uring_submit(&d->queue_);
  // START_DEV returns after the kernel has read the new disk, through the
  // fetches just queued: it completes on the loop (on_control_ready).
  d->control_async(UBLK_CMD_START_DEV,
                   control_command(d->dev_id_, nullptr, 0, static_cast<uint64_t>(getpid())),
                   kStartTag);
  TLOG(LOG_INFO, "%s: starting ublk device %s (%llu bytes)", who.c_str(), d->block_device().c_str(),
       static_cast<unsigned long long>(o.size_bytes));
  return d;
}

Result<void> UblkDevice::control_sync(uint32_t op, const ublksrv_ctrl_cmd& cmd, const char* what) {
  control_async(op, cmd, kSyncTag);
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec timeout{};
  timeout.tv_sec = 10;
  while (true) {
    const int r = io_uring_wait_cqe_timeout(&control_, &cqe, &timeout);
    if (r < 0) {
      return make_error(options_.who + ": ublk " + what + " got no answer: " + errno_text(-r));
    }
    const uint64_t tag = cqe->user_data;
    const int res = cqe->res;
    io_uring_cqe_seen(&control_, cqe);
    if (tag != kSyncTag) continue;
    if (res < 0) {
      std::string hint;
      if (res == -EEXIST)
        hint = " (the device number is in use: choose another in the device line)";
      if (res == -EPERM || res == -EACCES) hint = " (tandemd must run as root)";
      return make_error(options_.who + ": ublk " + what + " failed: " + errno_text(-res) + hint,
                        -res);
    }
    return {};
  }
}

void UblkDevice::control_async(uint32_t op, const ublksrv_ctrl_cmd& cmd, uint64_t user_data) {
  if (!prep_command(control_, control_fd_, op, cmd, user_data)) {
    TLOG(LOG_ERR, "%s: ublk control ring is full", options_.who.c_str());
    return;
  }
  io_uring_submit(&control_);
}

void UblkDevice::queue_command(uint32_t op, uint16_t tag, int32_t result) {
  const ublksrv_io_cmd cmd = io_command(0, tag, result, reinterpret_cast<uintptr_t>(buffer(tag)));
  // The ring has one entry per tag and each tag has at most one command
  // queued, so this cannot fail.
  if (!prep_command(queue_, char_fd_, op, cmd, tag)) {
    TLOG(LOG_ERR, "%s: ublk queue ring is full (tag %u)", options_.who.c_str(), tag);
  }
}

void UblkDevice::on_control_ready() {
  io_uring_cqe* cqe = nullptr;
  while (io_uring_peek_cqe(&control_, &cqe) == 0) {
    const uint64_t tag = cqe->user_data;
    const int res = cqe->res;
    io_uring_cqe_seen(&control_, cqe);
    if (tag == kStartTag) {
      if (res < 0) {
        TLOG(LOG_ERR, "%s: ublk device %s did not start: %s", options_.who.c_str(),
             block_device().c_str(), errno_text(-res).c_str());
      } else {
        started_ = true;
        TLOG(LOG_INFO, "%s: ublk device %s is ready", options_.who.c_str(), block_device().c_str());
      }
    }
  }
}

void UblkDevice::on_queue_ready() {
  io_uring_cqe* cqe = nullptr;
  while (io_uring_peek_cqe(&queue_, &cqe) == 0) {
    const auto tag = static_cast<uint16_t>(cqe->user_data);
    const int res = cqe->res;
    io_uring_cqe_seen(&queue_, cqe);
    if (tag >= options_.depth) continue;
    if (res == UBLK_IO_RES_OK) {
      on_request(tag);
    } else if (res != UBLK_IO_RES_ABORT) {
      TLOG(LOG_WARNING, "%s: ublk fetch of tag %u failed: %s", options_.who.c_str(), tag,
           errno_text(-res).c_str());
    }
    // UBLK_IO_RES_ABORT: the device is going away; the tag is not fetched again.
  }
  io_uring_submit(&queue_);
}

void UblkDevice::on_request(uint16_t tag) {
  MappedIo m = map_descriptor(descriptors_[tag], options_.size_bytes, options_.max_io_bytes);
  if (stopping_ || m.error != 0 || m.immediate) {
    queue_command(UBLK_IO_COMMIT_AND_FETCH_REQ, tag,
                  stopping_ ? -EIO : (m.error != 0 ? -m.error : 0));
    return;
  }
  m.request.id = tag;
  m.request.cookie = tag;
  if (m.request.op == nbd::BlockOp::kWrite) {
    m.request.data.assign(buffer(tag), buffer(tag) + m.request.length);
  }
  in_flight_[tag] = true;
  submit_(std::move(m.request));
}

void UblkDevice::complete(nbd::BlockRequest&& request, int error) {
  if (request.id >= options_.depth) return;
  const auto tag = static_cast<uint16_t>(request.id);
  if (!in_flight_[tag]) return;
  in_flight_[tag] = false;
  if (error == 0 && request.op == nbd::BlockOp::kRead) {
    if (request.data.size() < request.length) {
      error = EIO;
    } else {
      std::memcpy(buffer(tag), request.data.data(), request.length);
    }
  }
  queue_command(UBLK_IO_COMMIT_AND_FETCH_REQ, tag, commit_result(request, error));
  io_uring_submit(&queue_);
}

void UblkDevice::stop() {
  stopping_ = true;
  // Requests still with the owner fail: their answers would come after the
  // device is gone.
  for (uint16_t tag = 0; tag < options_.depth; ++tag) {
    if (!in_flight_[tag]) continue;
    in_flight_[tag] = false;
    queue_command(UBLK_IO_COMMIT_AND_FETCH_REQ, tag, -EIO);
  }
  io_uring_submit(&queue_);
  control_async(UBLK_CMD_STOP_DEV, control_command(dev_id_, nullptr, 0), kStopTag);
  // STOP_DEV removes the disk, which may still send requests (write-back of
  // its cache): answer them with EIO until the kernel reports the stop.
  for (int round = 0; round < 1000; ++round) {
    pollfd fds[2] = {{queue_.ring_fd, POLLIN, 0}, {control_.ring_fd, POLLIN, 0}};
    poll(fds, 2, 10);
    on_queue_ready();
    io_uring_cqe* cqe = nullptr;
    bool stopped = false;
    while (io_uring_peek_cqe(&control_, &cqe) == 0) {
      stopped = stopped || cqe->user_data == kStopTag;
      io_uring_cqe_seen(&control_, cqe);
    }
    if (stopped) return;
  }
  TLOG(LOG_WARNING, "%s: ublk device %s did not report its stop within 10 s", options_.who.c_str(),
       block_device().c_str());
}

UblkDevice::~UblkDevice() {
  if (added_ && queue_ready_) stop();
  if (queue_ready_) io_uring_queue_exit(&queue_);  // cancels the fetches
  if (descriptors_ != nullptr) {
    munmap(const_cast<ublksrv_io_desc*>(descriptors_), descriptors_length_);
  }
  if (buffers_ != nullptr) munmap(buffers_, buffers_length_);
  if (char_fd_ >= 0) close(char_fd_);
  if (added_ && control_ready_) {
    // The kernel deletes the device once /dev/ublkcN is released (above).
    if (auto r = control_sync(UBLK_CMD_DEL_DEV, control_command(dev_id_, nullptr, 0), "DEL_DEV");
        !r) {
      TLOG(LOG_WARNING, "%s", r.error().message.c_str());
    } else {
      TLOG(LOG_INFO, "%s: removed ublk device %s", options_.who.c_str(), block_device().c_str());
    }
  }
  if (control_ready_) io_uring_queue_exit(&control_);
  if (control_fd_ >= 0) close(control_fd_);
}

}  // namespace tandem::ublk
