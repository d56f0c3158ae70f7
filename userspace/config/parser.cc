#include "config/parser.h"

#include "config/lexer.h"
#include "config/limits.h"

namespace tandem::config {

namespace {

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& file, Diagnostics& diag)
      : tokens_(std::move(tokens)), file_(file), diag_(diag) {}

  std::vector<Statement> parse_file() {
    std::vector<Statement> out = parse_block_body(0);
    if (!failed_ && peek().kind == TokenKind::kCloseBrace) {
      error(peek().line, "'}' without a matching '{'; remove it or add the opening section");
    }
    return out;
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (t.kind != TokenKind::kEnd) ++pos_;
    return t;
  }
  void error(int line, const std::string& message) {
    diag_.error(SourceLocation{file_, line}, message);
    failed_ = true;
  }

  // Statements until '}' or the end of input (not consumed).
  std::vector<Statement> parse_block_body(std::size_t depth) {
    std::vector<Statement> out;
    while (!failed_) {
      const Token& t = peek();
      if (t.kind == TokenKind::kEnd || t.kind == TokenKind::kCloseBrace) break;
      if (t.kind == TokenKind::kSemicolon) {
        // drbdadm rejects a lone ';' too; it usually marks a deleted line.
        error(t.line, "';' without a statement; remove it");
        break;
      }
      if (t.kind != TokenKind::kWord) {
        error(t.line, t.kind == TokenKind::kString
                          ? "expected a keyword but found the quoted string \"" + t.text + "\""
                          : "expected a keyword but found '" + t.text + "'");
        break;
      }
      Statement s = parse_statement(depth);
      if (failed_) break;
      check_word_forms(s);
      if (failed_) break;
      out.push_back(std::move(s));
    }
    return out;
  }

  // Unquoted words are limited to letters, digits and / . _ - (as in
  // drbdadm); addresses and meta-disk indexes also use : [ ] by design.
  void check_word_forms(const Statement& s) {
    const bool address_like = s.keyword == "address" || s.keyword == "floating" ||
                              s.keyword == "meta-disk" ||
                              s.keyword == "device";  // device nbd ADDR:PORT
    for (const Argument& a : s.args) {
      if (a.quoted) continue;
      for (char c : a.text) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '_' || c == '-';
        const bool address_char = c == ':' || c == '[' || c == ']';
        if (!plain && !(address_like && address_char)) {
          error(s.where.line, "'" + a.text +
                                  "' must be written in double quotes: unquoted words may only "
                                  "contain letters, digits and / . _ -");
          return;
        }
      }
    }
  }

  Statement parse_statement(std::size_t depth) {
    Statement s;
    const Token& kw = next();
    s.keyword = kw.text;
    s.where = SourceLocation{file_, kw.line};
    while (!failed_) {
      const Token& t = peek();
      if (t.kind == TokenKind::kWord || t.kind == TokenKind::kString) {
        if (s.args.size() >= limits::kMaxArgs) {
          error(t.line, "'" + s.keyword + "' has more than " + std::to_string(limits::kMaxArgs) +
                            " arguments; is a ';' missing?");
          break;
        }
        s.args.push_back(Argument{t.text, t.kind == TokenKind::kString});
        next();
      } else if (t.kind == TokenKind::kSemicolon) {
        next();
        break;
      } else if (t.kind == TokenKind::kOpenBrace) {
        if (depth + 1 > limits::kMaxNesting) {
          error(t.line, "sections nested deeper than " + std::to_string(limits::kMaxNesting) +
                            " levels; is a '}' missing?");
          break;
        }
        next();
        s.has_block = true;
        s.block = parse_block_body(depth + 1);
        if (failed_) break;
        if (peek().kind != TokenKind::kCloseBrace) {
          error(s.where.line, "section '" + s.keyword + "' opened here is not closed; add '}'");
          break;
        }
        next();
        break;
      } else if (t.kind == TokenKind::kCloseBrace) {
        error(t.line, "missing ';' after '" + s.keyword + "'");
        break;
      } else {
        error(s.where.line,
              "statement '" + s.keyword + "' is not finished at the end of the file; add ';'");
        break;
      }
    }
    return s;
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  const std::string& file_;
  Diagnostics& diag_;
  bool failed_ = false;
};

}  // namespace

std::vector<Statement> parse_statements(std::string_view text, const std::string& file,
                                        Diagnostics& diag) {
  // A lexing error ends the token list early; parsing the truncated input
  // would only add follow-on errors.
  const std::size_t before = diag.count();
  std::vector<Token> tokens = tokenize(text, file, diag);
  if (diag.count() != before) {
    return {};
  }
  Parser parser(std::move(tokens), file, diag);
  std::vector<Statement> out = parser.parse_file();
  return out;
}

}  // namespace tandem::config
