// The generic shape of a drbd.conf file: statements made of a keyword,
// arguments, and either ';' or a { block } of further statements. Meaning is
// given later (config/builder.h); this layer only knows the punctuation.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace tandem::config {

struct Argument {
  std::string text;
  bool quoted = false;
};

struct Statement {
  std::string keyword;
  std::vector<Argument> args;
  bool has_block = false;
  std::vector<Statement> block;
  SourceLocation where;
};

}  // namespace tandem::config
