// Reading files and following includes: the only part of the configuration
// library that touches the file system.
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "config/declarer.h"
#include "config/diagnostics.h"
#include "config/limits.h"
#include "config/parser.h"
#include "config/resolver.h"

namespace tandem::config {

namespace {

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string canonical_path(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return path;
  return buf;
}

class Loader {
 public:
  explicit Loader(Diagnostics& diag) : diag_(diag) {}

  // Reads one file; nullopt (with an error at `from`) when it cannot.
  std::optional<std::string> read(const std::string& path, const SourceLocation& from) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      diag_.error(from, "cannot read " + path + ": " + std::strerror(errno) +
                            "; check the path and permissions");
      return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
      diag_.error(from, path + " is not a regular file; name the configuration file itself");
      return std::nullopt;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size > limits::kMaxFileBytes) {
      diag_.error(from, path + " is " + std::to_string(size) + " bytes, more than the limit of " +
                            std::to_string(limits::kMaxFileBytes) +
                            "; split it with include statements");
      return std::nullopt;
    }
    if (total_bytes_ + size > limits::kMaxTotalBytes) {
      diag_.error(from, "the configuration with its includes is larger than " +
                            std::to_string(limits::kMaxTotalBytes) + " bytes");
      return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      diag_.error(from, "cannot open " + path + "; check permissions");
      return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    if (s.size() > limits::kMaxFileBytes) {
      diag_.error(from, path + " grew beyond the size limit while being read");
      return std::nullopt;
    }
    total_bytes_ += s.size();
    return s;
  }

  // Parses `text` (the contents of `file`) and appends its top-level
  // statements to `out`, replacing include statements by the statements of
  // the files they name.
  void load_text(std::string_view text, const std::string& file, std::vector<Statement>& out) {
    stack_.push_back(canonical_path(file));
    std::vector<Statement> statements = parse_statements(text, file, diag_);
    for (Statement& s : statements) {
      if (diag_.full()) break;
      if (s.keyword == "include" && !s.has_block) {
        include(s, file, out);
      } else {
        out.push_back(std::move(s));
      }
    }
    stack_.pop_back();
  }

 private:
  void include(const Statement& s, const std::string& file, std::vector<Statement>& out) {
    if (s.args.size() != 1 || s.args[0].text.empty()) {
      diag_.error(s.where, "include needs one file name or pattern: include \"drbd.d/*.res\";");
      return;
    }
    std::string pattern = s.args[0].text;
    if (pattern.front() != '/') pattern = directory_of(file) + "/" + pattern;
    const bool wildcard = pattern.find_first_of("*?[") != std::string::npos;
    glob_t g{};
    const int rc = glob(pattern.c_str(), 0, nullptr, &g);
    std::vector<std::string> matches;
    if (rc == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
    if (matches.empty()) {
      // A pattern that matches nothing is fine (an empty drbd.d/), a plain
      // file name that does not exist is a mistake.
      if (!wildcard) {
        diag_.error(s.where, "include file " + pattern +
                                 " does not exist; fix the name (relative names are taken from "
                                 "the including file's directory) or remove the include");
      } else if (rc != 0 && rc != GLOB_NOMATCH) {
        diag_.error(s.where, "cannot read the directory of include pattern " + pattern);
      }
      return;
    }
    for (const std::string& path : matches) {
      if (diag_.full()) return;
      if (stack_.size() >= limits::kMaxIncludeDepth) {
        diag_.error(s.where, "includes nested deeper than " +
                                 std::to_string(limits::kMaxIncludeDepth) + " levels at " + path);
        return;
      }
      if (++included_ > limits::kMaxIncludedFiles) {
        diag_.error(s.where,
                    "more than " + std::to_string(limits::kMaxIncludedFiles) + " included files");
        return;
      }
      const std::string canon = canonical_path(path);
      for (const std::string& open : stack_) {
        if (open == canon) {
          std::string chain;
          for (const std::string& f : stack_) chain += f + " -> ";
          diag_.error(s.where, "include cycle: " + chain + canon + "; remove one of the includes");
          return;
        }
      }
      std::optional<std::string> text = read(path, s.where);
      if (!text) continue;
      load_text(*text, path, out);
    }
  }

  Diagnostics& diag_;
  std::vector<std::string> stack_;
  std::size_t total_bytes_ = 0;
  std::size_t included_ = 0;
};

Result<Config> finish(const std::vector<Statement>& statements, Diagnostics& diag) {
  if (!diag.empty()) return make_error(diag.message());
  Declarations decls = declare(statements, diag);
  if (!diag.empty()) return make_error(diag.message());
  std::optional<Config> config = resolve_declarations(decls, diag);
  if (!config) return make_error(diag.message());
  return std::move(*config);
}

}  // namespace

Result<Config> load_file(const std::string& path) {
  Diagnostics diag;
  Loader loader(diag);
  std::optional<std::string> text = loader.read(path, SourceLocation{path, 0});
  if (!text) {
    // No line to point at: the file itself is the problem.
    std::string msg = diag.message();
    const std::string prefix = path + ":0: ";
    if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
    return make_error(msg);
  }
  std::vector<Statement> statements;
  loader.load_text(*text, path, statements);
  return finish(statements, diag);
}

Result<Config> load_string(std::string_view text, const std::string& name) {
  Diagnostics diag;
  Loader loader(diag);
  std::vector<Statement> statements;
  loader.load_text(text, name, statements);
  return finish(statements, diag);
}

}  // namespace tandem::config
