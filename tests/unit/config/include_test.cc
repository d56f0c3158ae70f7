// load_file and include handling, on real files in a temporary directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "config/limits.h"
#include "test_configs.h"

namespace tandem::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class IncludeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tandem-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  std::string error_of(const std::string& path) {
    Result<Config> c = load_file(path);
    return c.ok() ? "<loaded>" : c.error().message;
  }

  fs::path dir_;
};

const std::string kR1 =
    "resource r1 {\n"
    "  on alpha { device /dev/drbd1; disk /dev/sdb1; meta-disk internal; address 10.0.0.1:7790; }\n"
    "  on beta { device /dev/drbd1; disk /dev/sdb1; meta-disk internal; address 10.0.0.2:7790; }\n"
    "}\n";

TEST_F(IncludeTest, GlobRelativeToIncludingFile) {
  write("drbd.d/r0.res", test::resource_with(""));
  write("drbd.d/r1.res", kR1);
  write("drbd.d/ignored.txt", "garbage {");
  const std::string main =
      write("drbd.conf", "global { usage-count no; }\ninclude \"drbd.d/*.res\";\n");
  Result<Config> c = load_file(main);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->resource_names(), (std::vector<std::string>{"r0", "r1"}));
  EXPECT_EQ(c->find("r1")->location.file, (dir_ / "drbd.d/r1.res").string());
  EXPECT_EQ(c->find("r1")->location.line, 1);
}

TEST_F(IncludeTest, EmptyGlobIsFine) {
  const std::string main = write("drbd.conf", "include \"drbd.d/*.res\";\n" + kR1);
  EXPECT_TRUE(load_file(main).ok());
}

TEST_F(IncludeTest, MissingIncludeFileIsAnError) {
  const std::string main = write("drbd.conf", kR1 + "include \"r0.res\";\n");
  EXPECT_THAT(error_of(main), HasSubstr("drbd.conf:5: include file " + (dir_ / "r0.res").string() +
                                        " does not exist"));
}

TEST_F(IncludeTest, ErrorsInIncludedFilesNameThatFile) {
  write("bad.res", "resource r0 {\n  net { ping-int 0; }\n}\n");
  const std::string main = write("drbd.conf", "include \"bad.res\";\n");
  EXPECT_THAT(error_of(main), HasSubstr((dir_ / "bad.res").string() + ":2: ping-int 0"));
}

TEST_F(IncludeTest, CycleIsDetected) {
  write("a.conf", "include \"b.conf\";\n");
  write("b.conf", "include \"a.conf\";\n");
  EXPECT_THAT(error_of((dir_ / "a.conf").string()), HasSubstr("include cycle"));
  const std::string self = write("self.conf", "include \"self.conf\";\n");
  EXPECT_THAT(error_of(self), HasSubstr("include cycle"));
}

TEST_F(IncludeTest, DepthIsLimited) {
  for (std::size_t i = 0; i <= limits::kMaxIncludeDepth + 1; ++i) {
    write("d" + std::to_string(i) + ".conf", "include \"d" + std::to_string(i + 1) + ".conf\";\n");
  }
  write("d" + std::to_string(limits::kMaxIncludeDepth + 2) + ".conf", "");
  EXPECT_THAT(error_of((dir_ / "d0.conf").string()), HasSubstr("nested deeper than"));
}

TEST_F(IncludeTest, NumberOfIncludedFilesIsLimited) {
  for (std::size_t i = 0; i <= limits::kMaxIncludedFiles; ++i) {
    write("many/f" + std::to_string(i) + ".conf", "");
  }
  const std::string main = write("drbd.conf", "include \"many/*.conf\";\n");
  EXPECT_THAT(error_of(main), HasSubstr("more than 256 included files"));
}

TEST_F(IncludeTest, MissingMainFile) {
  const std::string e = error_of((dir_ / "nope.conf").string());
  EXPECT_THAT(e, HasSubstr("cannot read " + (dir_ / "nope.conf").string()));
  EXPECT_THAT(e, HasSubstr("No such file"));
}

TEST_F(IncludeTest, DirectoryIsNotAConfigFile) {
  EXPECT_THAT(error_of(dir_.string()), HasSubstr("is not a regular file"));
}

TEST_F(IncludeTest, OversizedFileIsRefused) {
  const std::string big = write("big.conf", std::string(limits::kMaxFileBytes + 1, '#'));
  EXPECT_THAT(error_of(big), HasSubstr("more than the limit"));
}

TEST_F(IncludeTest, IncludeNeedsOneName) {
  const std::string main = write("drbd.conf", "include;\n");
  EXPECT_THAT(error_of(main), HasSubstr("include needs one file name"));
}

}  // namespace
}  // namespace tandem::config
