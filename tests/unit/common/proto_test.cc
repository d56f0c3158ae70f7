// Checks that protobuf code generation is wired: a generated message
// round-trips through its wire encoding.
#include <gtest/gtest.h>

#include <string>

#include "fence.pb.h"

namespace {

TEST(Proto, FenceEventRoundTrip) {
  tandem::proto::FenceEvent event;
  event.set_victim("mail02");
  event.set_victim_nodeid(2);
  event.set_success(true);
  auto* attempt = event.add_attempts();
  attempt->set_device("ipmi-mail02");
  attempt->set_exit_code(0);

  std::string bytes;
  ASSERT_TRUE(event.SerializeToString(&bytes));

  tandem::proto::FenceEvent back;
  ASSERT_TRUE(back.ParseFromString(bytes));
  EXPECT_EQ(back.victim(), "mail02");
  EXPECT_EQ(back.victim_nodeid(), 2u);
  EXPECT_TRUE(back.success());
  ASSERT_EQ(back.attempts_size(), 1);
  EXPECT_EQ(back.attempts(0).device(), "ipmi-mail02");
}

}  // namespace
