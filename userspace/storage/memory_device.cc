#include "storage/memory_device.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tandem::storage {

MemoryDevice::MemoryDevice(std::string name, uint64_t size_bytes, uint32_t alignment,
                           uint32_t queue_depth)
    : name_(std::move(name)),
      size_(size_bytes),
      alignment_(alignment == 0 ? 1 : alignment),
      depth_(queue_depth == 0 ? 1 : queue_depth) {}

void MemoryDevice::write_bytes(PageMap& map, const PageMap* below, uint64_t offset,
                               std::span<const std::byte> data, bool zero) {
  uint64_t pos = offset;
  const uint64_t end = offset + (zero ? 0 : data.size());
  const uint64_t zero_end = zero ? offset + data.size() : 0;
  const uint64_t stop = zero ? zero_end : end;
  while (pos < stop) {
    const uint64_t page = pos / kPage;
    const uint64_t in_page = pos % kPage;
    const uint64_t n = std::min(kPage - in_page, stop - pos);
    if (zero && in_page == 0 && n == kPage) {
      map[page] = nullptr;
      pos += n;
      continue;
    }
    auto it = map.find(page);
    Page* target = nullptr;
    if (it != map.end() && it->second != nullptr) {
      if (it->second.use_count() > 1) {  // shared with a rebooted copy: copy on write
        it->second = std::make_shared<Page>(*it->second);
      }
      target = it->second.get();
    } else {
      auto fresh = std::make_shared<Page>();
      fresh->fill(std::byte{0});
      if (it == map.end() && below != nullptr) {
        auto b = below->find(page);
        if (b != below->end() && b->second != nullptr) {
          *fresh = *b->second;
        }
      }
      target = fresh.get();
      map[page] = std::move(fresh);
    }
    if (zero) {
      std::memset(target->data() + in_page, 0, n);
    } else {
      std::memcpy(target->data() + in_page, data.data() + (pos - offset), n);
    }
    pos += n;
  }
}

void MemoryDevice::read_bytes(uint64_t offset, std::span<std::byte> out) const {
  uint64_t pos = offset;
  size_t done = 0;
  while (done < out.size()) {
    const uint64_t page = pos / kPage;
    const uint64_t in_page = pos % kPage;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kPage - in_page, out.size() - done));
    const Page* src = nullptr;
    if (auto c = cache_.find(page); c != cache_.end()) {
      src = c->second.get();
    } else if (auto d = durable_.find(page); d != durable_.end()) {
      src = d->second.get();
    }
    if (src != nullptr) {
      std::memcpy(out.data() + done, src->data() + in_page, n);
    } else {
      std::memset(out.data() + done, 0, n);
    }
    done += n;
    pos += n;
  }
}

void MemoryDevice::peek(uint64_t offset, std::span<std::byte> out) const {
  read_bytes(offset, out);
}

void MemoryDevice::poke(uint64_t offset, std::span<const std::byte> data) {
  write_bytes(durable_, nullptr, offset, data, false);
  // Keep the cache coherent with the medium for the poked bytes.
  if (!cache_.empty()) {
    write_bytes(cache_, &durable_, offset, data, false);
  }
}

void MemoryDevice::tear(const IoRequest& r, uint32_t torn_bytes) {
  const uint64_t torn = std::min<uint64_t>(torn_bytes / 512 * 512, r.length);
  if (torn == 0) {
    return;
  }
  if (r.op == IoOp::kWrite) {
    write_bytes(durable_, nullptr, r.offset,
                {static_cast<const std::byte*>(r.data), static_cast<size_t>(torn)}, false);
  } else if (r.op == IoOp::kWriteZeroes) {
    std::vector<std::byte> zeroes(static_cast<size_t>(torn));
    write_bytes(durable_, nullptr, r.offset, zeroes, false);
  }
}

void MemoryDevice::complete(size_t index) {
  if (index >= in_flight_.size()) {
    return;
  }
  const IoRequest r = in_flight_[index];
  in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(index));
  IoCompletion c{.user_data = r.user_data, .op = r.op, .offset = r.offset, .length = r.length};
  execute(r, c);
  done_.push_back(c);
}

void MemoryDevice::power_cut(uint32_t torn_bytes) {
  for (const IoRequest& r : in_flight_) {
    if (r.op == IoOp::kWrite || r.op == IoOp::kWriteZeroes) {
      tear(r, torn_bytes);
      break;
    }
  }
  for (const IoRequest& r : in_flight_) {
    done_.push_back(IoCompletion{.user_data = r.user_data,
                                 .op = r.op,
                                 .offset = r.offset,
                                 .length = r.length,
                                 .error = EIO});
  }
  in_flight_.clear();
  cache_.clear();
  powered_off_ = true;
}

void MemoryDevice::execute(const IoRequest& r, IoCompletion& c) {
  const uint64_t number = requests_++;
  const bool is_write = r.op == IoOp::kWrite || r.op == IoOp::kWriteZeroes;
  const uint64_t write_number = is_write ? writes_++ : 0;
  if (powered_off_) {
    c.error = EIO;
    return;
  }
  if (is_write && plan_.power_cut_at_write && *plan_.power_cut_at_write == write_number) {
    tear(r, plan_.torn_bytes);
    cache_.clear();
    powered_off_ = true;
    c.error = EIO;
    return;
  }
  if (auto f = plan_.fail_requests.find(number); f != plan_.fail_requests.end()) {
    c.error = f->second;
    return;
  }
  if (plan_.fail_if) {
    if (const int err = plan_.fail_if(r, number); err != 0) {
      c.error = err;
      return;
    }
  }
  uint32_t length = r.length;
  if (auto s = plan_.short_requests.find(number); s != plan_.short_requests.end()) {
    length = std::min(length, s->second);
  }
  switch (r.op) {
    case IoOp::kRead:
      read_bytes(r.offset, {static_cast<std::byte*>(r.data), length});
      break;
    case IoOp::kWrite:
    case IoOp::kWriteZeroes: {
      const std::span<const std::byte> data{static_cast<const std::byte*>(r.data), length};
      const bool zero = r.op == IoOp::kWriteZeroes;
      write_bytes(cache_, &durable_, r.offset, data, zero);
      if (r.fua) {
        write_bytes(durable_, nullptr, r.offset, data, zero);
      }
      break;
    }
    case IoOp::kFlush:
      for (auto& [page, p] : cache_) {
        if (p == nullptr) {
          durable_.erase(page);
        } else {
          durable_[page] = std::move(p);
        }
      }
      cache_.clear();
      break;
  }
  c.transferred = (r.op == IoOp::kFlush) ? r.length : length;
}

Result<void> MemoryDevice::submit(const IoRequest& r) {
  if (auto v = validate_request(*this, r); !v) {
    return v;
  }
  if (outstanding() >= depth_) {
    return make_error(name_ + ": queue full (" + std::to_string(depth_) +
                          " requests outstanding); reap completions first",
                      EAGAIN);
  }
  if (deferred_) {
    in_flight_.push_back(r);
    return {};
  }
  IoCompletion c{.user_data = r.user_data, .op = r.op, .offset = r.offset, .length = r.length};
  execute(r, c);
  done_.push_back(c);
  return {};
}

Result<size_t> MemoryDevice::reap(std::vector<IoCompletion>& out, uint32_t min_complete) {
  // Immediate mode completes every request when it is submitted; deferred
  // mode completes only on complete(), so there is nothing to wait for.
  (void)min_complete;
  const size_t n = done_.size();
  out.insert(out.end(), done_.begin(), done_.end());
  done_.clear();
  return n;
}

std::unique_ptr<MemoryDevice> MemoryDevice::reboot() const {
  auto dev = std::make_unique<MemoryDevice>(name_, size_, alignment_, depth_);
  dev->durable_ = durable_;  // pages are shared and copied on write
  return dev;
}

}  // namespace tandem::storage
