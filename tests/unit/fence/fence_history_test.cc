#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "fence/fence_history.h"

namespace tandem::fence {
namespace {

class FenceHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-history-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/sub/fence-history";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  static proto::FenceEvent event(const std::string& victim, bool success) {
    proto::FenceEvent e;
    e.set_victim(victim);
    e.set_victim_nodeid(2);
    e.set_requester("test");
    e.set_started_unix_ms(1000);
    e.set_finished_unix_ms(2000);
    e.set_method("1");
    e.set_success(success);
    auto* a = e.add_attempts();
    a->set_device("ipmi");
    a->set_agent("fence_tandem_ipmilan");
    a->set_action("reboot");
    a->set_exit_code(success ? 0 : 1);
    return e;
  }

  void append_raw(const std::string& bytes) {
    std::ofstream out(path_, std::ios::app | std::ios::binary);
    out << bytes;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(FenceHistoryTest, MissingFileIsEmptyHistory) {
  auto h = read_history(path_);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->events.empty());
}

TEST_F(FenceHistoryTest, AppendCreatesDirectoryAndRoundTrips) {
  ASSERT_TRUE(append_history(path_, event("mail01", true)));
  ASSERT_TRUE(append_history(path_, event("mail02", false)));
  auto h = read_history(path_);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->events.size(), 2u);
  EXPECT_EQ(h->events[0].victim(), "mail01");
  EXPECT_TRUE(h->events[0].success());
  EXPECT_EQ(h->events[1].victim(), "mail02");
  EXPECT_EQ(h->events[1].attempts(0).exit_code(), 1);
  EXPECT_EQ(h->ignored_tail_bytes, 0u);
}

TEST_F(FenceHistoryTest, TornLastRecordIsSkippedAndReported) {
  ASSERT_TRUE(append_history(path_, event("mail01", true)));
  auto rec = encode_history_record(event("mail02", true));
  ASSERT_TRUE(rec);
  for (std::size_t cut : {std::size_t{3}, std::size_t{12}, rec->size() - 1}) {
    const std::string good = *encode_history_record(event("mail01", true));
    auto h = decode_history(good + rec->substr(0, cut));
    ASSERT_EQ(h.events.size(), 1u) << cut;
    EXPECT_EQ(h.ignored_tail_bytes, cut);
    EXPECT_NE(h.problem.find("torn"), std::string::npos) << h.problem;
  }
}

TEST_F(FenceHistoryTest, RecordsAfterATornOneAreStillRead) {
  ASSERT_TRUE(append_history(path_, event("mail01", true)));
  auto rec = encode_history_record(event("mail02", true));
  append_raw(rec->substr(0, 20));  // crash in the middle of an append
  ASSERT_TRUE(append_history(path_, event("mail03", false)));
  auto h = read_history(path_);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->events.size(), 2u);
  EXPECT_EQ(h->events[0].victim(), "mail01");
  EXPECT_EQ(h->events[1].victim(), "mail03");
  EXPECT_EQ(h->ignored_tail_bytes, 20u);
}

TEST_F(FenceHistoryTest, FlippedPayloadByteIsDetected) {
  std::string rec = *encode_history_record(event("mail01", true));
  rec[rec.size() - 2] ^= 0x20;
  auto h = decode_history(rec);
  EXPECT_TRUE(h.events.empty());
  EXPECT_EQ(h.ignored_tail_bytes, rec.size());
}

TEST_F(FenceHistoryTest, ZeroFilledTailIsIgnored) {
  std::string data = *encode_history_record(event("mail01", true)) + std::string(4096, '\0');
  auto h = decode_history(data);
  EXPECT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.ignored_tail_bytes, 4096u);
}

}  // namespace
}  // namespace tandem::fence
