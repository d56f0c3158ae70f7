#include "config/parser.h"

#include <gtest/gtest.h>

#include "config/limits.h"

namespace tandem::config {
namespace {

TEST(Parser, BuildsNestedStatements) {
  Diagnostics diag;
  const auto s = parse_statements(
      "global { usage-count no; }\nresource r0 {\n  on a b {\n    address 1.2.3.4:1;\n  }\n}\n",
      "p.conf", diag);
  ASSERT_TRUE(diag.empty()) << diag.message();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].keyword, "global");
  EXPECT_TRUE(s[0].has_block);
  ASSERT_EQ(s[0].block.size(), 1u);
  EXPECT_EQ(s[0].block[0].keyword, "usage-count");
  ASSERT_EQ(s[0].block[0].args.size(), 1u);
  EXPECT_EQ(s[0].block[0].args[0].text, "no");
  EXPECT_EQ(s[1].where.line, 2);
  const Statement& on = s[1].block[0];
  EXPECT_EQ(on.keyword, "on");
  ASSERT_EQ(on.args.size(), 2u);
  EXPECT_EQ(on.args[1].text, "b");
  EXPECT_EQ(on.block[0].where.line, 4);
  EXPECT_EQ(on.block[0].where.file, "p.conf");
}

TEST(Parser, QuotedArgumentsAreMarked) {
  Diagnostics diag;
  const auto s = parse_statements("split-brain \"x y\";", "p.conf", diag);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].args[0].quoted);
  EXPECT_EQ(s[0].args[0].text, "x y");
}

TEST(Parser, MissingSemicolonBeforeBrace) {
  Diagnostics diag;
  parse_statements("net {\n ping-int 5\n}\n", "p.conf", diag);
  EXPECT_NE(diag.message().find("p.conf:3: missing ';' after 'ping-int'"), std::string::npos)
      << diag.message();
}

TEST(Parser, UnclosedSection) {
  Diagnostics diag;
  parse_statements("resource r0 {\n net { }\n", "p.conf", diag);
  EXPECT_NE(diag.message().find("p.conf:1: section 'resource' opened here is not closed"),
            std::string::npos)
      << diag.message();
}

TEST(Parser, StrayClosingBrace) {
  Diagnostics diag;
  parse_statements("global { }\n}\n", "p.conf", diag);
  EXPECT_NE(diag.message().find("p.conf:2: '}' without a matching '{'"), std::string::npos)
      << diag.message();
}

TEST(Parser, UnfinishedStatementAtEnd) {
  Diagnostics diag;
  parse_statements("protocol C", "p.conf", diag);
  EXPECT_NE(diag.message().find("add ';'"), std::string::npos) << diag.message();
}

TEST(Parser, StringWhereKeywordExpected) {
  Diagnostics diag;
  parse_statements("\"protocol\" C;", "p.conf", diag);
  EXPECT_NE(diag.message().find("expected a keyword"), std::string::npos) << diag.message();
}

TEST(Parser, NestingLimit) {
  std::string deep;
  for (std::size_t i = 0; i < limits::kMaxNesting + 1; ++i) deep += "a {";
  for (std::size_t i = 0; i < limits::kMaxNesting + 1; ++i) deep += "}";
  Diagnostics diag;
  parse_statements(deep, "p.conf", diag);
  EXPECT_NE(diag.message().find("nested deeper"), std::string::npos) << diag.message();

  std::string ok;
  for (std::size_t i = 0; i < limits::kMaxNesting; ++i) ok += "a {";
  for (std::size_t i = 0; i < limits::kMaxNesting; ++i) ok += "}";
  Diagnostics fine;
  parse_statements(ok, "p.conf", fine);
  EXPECT_TRUE(fine.empty()) << fine.message();
}

TEST(Parser, ArgumentLimit) {
  std::string many = "x";
  for (std::size_t i = 0; i < limits::kMaxArgs + 1; ++i) many += " a";
  Diagnostics diag;
  parse_statements(many + ";", "p.conf", diag);
  EXPECT_NE(diag.message().find("is a ';' missing?"), std::string::npos) << diag.message();
}

TEST(Parser, UnquotedWordsUseDrbdsCharacterSet) {
  Diagnostics diag;
  parse_statements("shared-secret a%b;", "p.conf", diag);
  EXPECT_NE(diag.message().find("'a%b' must be written in double quotes"), std::string::npos)
      << diag.message();
  Diagnostics quoted;
  parse_statements("shared-secret \"a%b\"; address ipv6 [fd00::1]:1; meta-disk /x[1];", "p.conf",
                   quoted);
  EXPECT_TRUE(quoted.empty()) << quoted.message();
  Diagnostics colon;
  parse_statements("disk /dev/a:b;", "p.conf", colon);
  EXPECT_FALSE(colon.empty());
}

TEST(Parser, LexErrorStopsParsing) {
  Diagnostics diag;
  parse_statements("a \"x\n}", "p.conf", diag);
  EXPECT_EQ(diag.count(), 1u) << diag.message();
}

}  // namespace
}  // namespace tandem::config
