// Collects the errors of one load so that an administrator sees every
// problem of a file at once (up to a limit), each as "file:line: message".
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/limits.h"

namespace tandem::config {

class Diagnostics {
 public:
  void error(const SourceLocation& where, const std::string& message) {
    ++count_;
    if (lines_.size() < limits::kMaxErrors) {
      lines_.push_back(where.to_string() + ": " + message);
    } else {
      truncated_ = true;
    }
  }
  bool empty() const { return count_ == 0; }
  std::size_t count() const { return count_; }
  bool full() const { return lines_.size() >= limits::kMaxErrors; }
  const std::vector<std::string>& lines() const { return lines_; }

  std::string message() const {
    std::string out;
    for (const std::string& l : lines_) {
      if (!out.empty()) out += '\n';
      out += l;
    }
    if (truncated_) out += "\n(further errors not shown; fix the ones above first)";
    return out;
  }

 private:
  std::vector<std::string> lines_;
  bool truncated_ = false;
  std::size_t count_ = 0;
};

}  // namespace tandem::config
