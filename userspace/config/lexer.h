// Tokens of the drbd.conf language: words, "quoted strings", { } ; and
// '#' comments to the end of the line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"

namespace tandem::config {

enum class TokenKind { kWord, kString, kOpenBrace, kCloseBrace, kSemicolon, kEnd };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;  // word or string contents (escapes resolved)
  int line = 0;
};

// Splits `text` into tokens, ending with one kEnd token. Errors (unterminated
// string, control characters, over-long tokens, a file over the size limit)
// go to `diag`, naming `file`; the tokens up to the error are still returned.
std::vector<Token> tokenize(std::string_view text, const std::string& file, Diagnostics& diag);

}  // namespace tandem::config
