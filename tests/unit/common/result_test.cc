#include "common/result.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error("value must be positive, got " + std::to_string(v));
  return v;
}

TEST(Result, CarriesValueOrError) {
  auto good = parse_positive(5);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 5);

  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "value must be positive, got -1");
  EXPECT_EQ(bad.error().sys_errno, 0);
}

TEST(Result, VoidResult) {
  Result<void> ok;
  EXPECT_TRUE(ok.ok());
  Result<void> failed = make_error("disk /dev/x: EIO", 5);
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().sys_errno, 5);
}

}  // namespace
}  // namespace tandem
