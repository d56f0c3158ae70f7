#include "config/lexer.h"

#include <gtest/gtest.h>

#include "config/limits.h"

namespace tandem::config {
namespace {

std::vector<Token> lex(std::string_view text, Diagnostics& diag) {
  return tokenize(text, "f.conf", diag);
}

TEST(Lexer, SplitsWordsPunctuationAndStrings) {
  Diagnostics diag;
  const auto t = lex("resource r0 {\n  split-brain \"a \\\"b\\\" \\\\c\";\n}\n", diag);
  ASSERT_TRUE(diag.empty()) << diag.message();
  ASSERT_EQ(t.size(), 8u);
  EXPECT_EQ(t[0].kind, TokenKind::kWord);
  EXPECT_EQ(t[0].text, "resource");
  EXPECT_EQ(t[1].text, "r0");
  EXPECT_EQ(t[2].kind, TokenKind::kOpenBrace);
  EXPECT_EQ(t[3].text, "split-brain");
  EXPECT_EQ(t[3].line, 2);
  EXPECT_EQ(t[4].kind, TokenKind::kString);
  EXPECT_EQ(t[4].text, "a \"b\" \\c");
  EXPECT_EQ(t[5].kind, TokenKind::kSemicolon);
  EXPECT_EQ(t[6].kind, TokenKind::kCloseBrace);
  EXPECT_EQ(t[6].line, 3);
  EXPECT_EQ(t[7].kind, TokenKind::kEnd);
}

TEST(Lexer, CommentsRunToEndOfLine) {
  Diagnostics diag;
  const auto t = lex("# whole line { ;\nprotocol C; # trailing \"\n", diag);
  ASSERT_TRUE(diag.empty());
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].text, "protocol");
  EXPECT_EQ(t[0].line, 2);
  EXPECT_EQ(t[1].text, "C");
}

TEST(Lexer, WordsStopAtPunctuation) {
  Diagnostics diag;
  const auto t = lex("address [fd00::1]:7789;meta-disk /dev/x[0]{}", diag);
  ASSERT_TRUE(diag.empty());
  EXPECT_EQ(t[1].text, "[fd00::1]:7789");
  EXPECT_EQ(t[2].kind, TokenKind::kSemicolon);
  EXPECT_EQ(t[4].text, "/dev/x[0]");
  EXPECT_EQ(t[5].kind, TokenKind::kOpenBrace);
}

TEST(Lexer, UnterminatedStringNamesItsLine) {
  Diagnostics diag;
  lex("a;\nb \"open\nc;", diag);
  ASSERT_FALSE(diag.empty());
  EXPECT_NE(diag.message().find("f.conf:2:"), std::string::npos) << diag.message();
  EXPECT_NE(diag.message().find("not closed"), std::string::npos);
}

TEST(Lexer, StringAtEndOfFileNotClosed) {
  Diagnostics diag;
  lex("b \"open", diag);
  EXPECT_NE(diag.message().find("end of the file"), std::string::npos) << diag.message();
}

TEST(Lexer, RejectsControlBytes) {
  Diagnostics diag;
  lex(std::string_view("abc\x01", 4), diag);
  EXPECT_NE(diag.message().find("control byte"), std::string::npos) << diag.message();
  Diagnostics nul;
  lex(std::string_view("x \0", 3), nul);
  EXPECT_FALSE(nul.empty());
}

TEST(Lexer, EnforcesTokenLength) {
  Diagnostics diag;
  lex(std::string(limits::kMaxWordBytes + 1, 'a'), diag);
  EXPECT_NE(diag.message().find("longer than"), std::string::npos) << diag.message();
  Diagnostics ok;
  lex(std::string(limits::kMaxWordBytes, 'a'), ok);
  EXPECT_TRUE(ok.empty());
  Diagnostics str;
  lex("\"" + std::string(limits::kMaxStringBytes + 1, 'a') + "\"", str);
  EXPECT_FALSE(str.empty());
  Diagnostics str_ok;
  lex("\"" + std::string(limits::kMaxStringBytes, 'a') + "\"", str_ok);
  EXPECT_TRUE(str_ok.empty());
}

TEST(Lexer, EnforcesFileSize) {
  Diagnostics diag;
  lex(std::string(limits::kMaxFileBytes + 1, ' '), diag);
  EXPECT_NE(diag.message().find("split it with include"), std::string::npos) << diag.message();
}

}  // namespace
}  // namespace tandem::config
