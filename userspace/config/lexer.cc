#include "config/lexer.h"

#include "config/limits.h"

namespace tandem::config {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

bool ends_word(char c) {
  return is_space(c) || c == '{' || c == '}' || c == ';' || c == '"';
}

// Control bytes other than whitespace never belong in a config file; they
// usually mean a binary file was passed by mistake.
bool is_bad_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && !is_space(c)) || u == 0x7f;
}

std::string hex_byte(char c) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  const auto u = static_cast<unsigned char>(c);
  return std::string("0x") + kDigits[u >> 4] + kDigits[u & 15];
}

}  // namespace

std::vector<Token> tokenize(std::string_view text, const std::string& file, Diagnostics& diag) {
  std::vector<Token> out;
  int line = 1;
  auto fail = [&](int at, const std::string& message) {
    diag.error(SourceLocation{file, at}, message);
    out.push_back(Token{TokenKind::kEnd, {}, at});
    return out;
  };
  if (text.size() > limits::kMaxFileBytes) {
    return fail(1, "file is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                       std::to_string(limits::kMaxFileBytes) +
                       "; split it with include statements");
  }
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (is_space(c)) {
      ++i;
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '{') {
      out.push_back(Token{TokenKind::kOpenBrace, "{", line});
      ++i;
    } else if (c == '}') {
      out.push_back(Token{TokenKind::kCloseBrace, "}", line});
      ++i;
    } else if (c == ';') {
      out.push_back(Token{TokenKind::kSemicolon, ";", line});
      ++i;
    } else if (c == '"') {
      const int start_line = line;
      std::string value;
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char d = text[i];
        if (d == '"') {
          closed = true;
          ++i;
          break;
        }
        if (d == '\\' && i + 1 < text.size()) {
          ++i;
          d = text[i];
          if (d == 'n')
            d = '\n';
          else if (d == 't')
            d = '\t';
        }
        if (d == '\n') {
          return fail(start_line,
                      "string not closed before the end of the line; add the closing '\"'");
        }
        if (is_bad_control(d)) {
          return fail(line, "control character in a quoted string; remove it");
        }
        value.push_back(d);
        if (value.size() > limits::kMaxStringBytes) {
          return fail(start_line, "quoted string longer than " +
                                      std::to_string(limits::kMaxStringBytes) + " bytes");
        }
        ++i;
      }
      if (!closed) {
        return fail(start_line,
                    "string not closed before the end of the file; add the closing '\"'");
      }
      out.push_back(Token{TokenKind::kString, std::move(value), start_line});
    } else if (is_bad_control(c)) {
      return fail(line, "unexpected control byte " + hex_byte(c) + "; is this a text file?");
    } else {
      const std::size_t start = i;
      while (i < text.size() && !ends_word(text[i])) {
        if (is_bad_control(text[i])) {
          return fail(line, "unexpected control byte in a word; is this a text file?");
        }
        ++i;
      }
      if (i - start > limits::kMaxWordBytes) {
        return fail(line, "word longer than " + std::to_string(limits::kMaxWordBytes) +
                              " bytes; write it in double quotes (up to " +
                              std::to_string(limits::kMaxStringBytes) + " bytes)");
      }
      out.push_back(Token{TokenKind::kWord, std::string(text.substr(start, i - start)), line});
    }
  }
  out.push_back(Token{TokenKind::kEnd, {}, line});
  return out;
}

}  // namespace tandem::config
