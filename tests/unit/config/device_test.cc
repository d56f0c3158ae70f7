// The `device` statement: frontend clauses (nbd with TCP and kernel attach,
// fuse, ublk), the DRBD spellings, errors with file:line, the canonical dump
// and the per-host uniqueness checks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config/device_statement.h"
#include "config/dump.h"
#include "test_configs.h"

namespace tandem::config {
namespace {

using test::load_error;
using ::testing::HasSubstr;

// A resource whose host alpha has `device` set to `device_args`.
std::string with_device(const std::string& device_args) {
  return "resource r0 {\n"
         "  on alpha {\n"
         "    device " +
         device_args +
         ";\n"
         "    disk /dev/sda1; meta-disk internal; address 10.0.0.1:7789;\n"
         "  }\n"
         "  on beta { device nbd; disk /dev/sda1; meta-disk internal; address 10.0.0.2:7789; }\n"
         "}\n";
}

Device device_of(const std::string& device_args) {
  Result<Config> c = load_string(with_device(device_args), "d.conf");
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  if (!c.ok()) return {};
  Result<ResolvedResource> r = c->resolve("r0", "alpha");
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return {};
  return r->volumes()[0].device;
}

TEST(Device, NbdAlone) {
  const Device d = device_of("nbd");
  EXPECT_TRUE(d.nbd);
  EXPECT_FALSE(d.fuse);
  EXPECT_FALSE(d.ublk);
  EXPECT_FALSE(d.nbd_tcp.has_value());
  EXPECT_TRUE(d.nbd_kernel_device.empty());
  EXPECT_TRUE(d.path.empty());
  EXPECT_FALSE(d.has_minor);
}

TEST(Device, NbdTcpAndKernelDevice) {
  const Device d = device_of("nbd 127.0.0.1:10809 /dev/nbd3");
  ASSERT_TRUE(d.nbd_tcp.has_value());
  EXPECT_EQ(d.nbd_tcp->family, AddressFamily::kIpv4);
  EXPECT_EQ(d.nbd_tcp->host, "127.0.0.1");
  EXPECT_EQ(d.nbd_tcp->port, 10809);
  EXPECT_EQ(d.nbd_kernel_device, "/dev/nbd3");
}

TEST(Device, NbdIpv6IsCanonicalised) {
  const Device d = device_of("nbd [0:0::1]:10809");
  ASSERT_TRUE(d.nbd_tcp.has_value());
  EXPECT_EQ(d.nbd_tcp->family, AddressFamily::kIpv6);
  EXPECT_EQ(d.nbd_tcp->host, "::1");
  EXPECT_EQ(listen_address_text(*d.nbd_tcp), "[::1]:10809");
}

TEST(Device, FuseDefaultAndPath) {
  EXPECT_TRUE(device_of("fuse").fuse);
  EXPECT_TRUE(device_of("fuse").fuse_mount.empty());
  const Device d = device_of("fuse /srv/tandem/r0");
  EXPECT_TRUE(d.fuse);
  EXPECT_EQ(d.fuse_mount, "/srv/tandem/r0");
  EXPECT_FALSE(d.nbd);
}

TEST(Device, UblkDefaultAndNumber) {
  const Device a = device_of("ublk");
  EXPECT_TRUE(a.ublk);
  EXPECT_FALSE(a.ublk_id.has_value());
  const Device b = device_of("ublk 7");
  ASSERT_TRUE(b.ublk_id.has_value());
  EXPECT_EQ(*b.ublk_id, 7u);
}

TEST(Device, ClausesCombineInAnyOrder) {
  const Device d = device_of("fuse ublk 2 nbd 0.0.0.0:10809");
  EXPECT_TRUE(d.fuse);
  EXPECT_TRUE(d.ublk);
  EXPECT_TRUE(d.nbd);
  EXPECT_EQ(d.nbd_tcp->port, 10809);
  EXPECT_EQ(*d.ublk_id, 2u);
  // The dump has one canonical order.
  EXPECT_EQ(device_text(d), "nbd 0.0.0.0:10809 fuse ublk 2");
}

TEST(Device, QuotedFrontendWordIsAMountPointNotAClause) {
  // A quoted word is never a keyword; as a relative path it is refused.
  EXPECT_THAT(load_error(with_device("fuse \"ublk\"")), HasSubstr("must be an absolute path"));
}

TEST(Device, DrbdSpellingsStillLoad) {
  const Device d = device_of("/dev/drbd4");
  EXPECT_EQ(d.path, "/dev/drbd4");
  EXPECT_EQ(d.minor, 4u);
  EXPECT_TRUE(d.has_minor);
  EXPECT_FALSE(d.nbd || d.fuse || d.ublk);
  EXPECT_EQ(device_text(d), "/dev/drbd4 minor 4");
}

TEST(Device, ErrorsNameTheLineAndSayWhatToWrite) {
  EXPECT_THAT(load_error(with_device("nbd nbd"), "d.conf"),
              HasSubstr("d.conf:3: in resource r0, host alpha: device names nbd twice"));
  EXPECT_THAT(load_error(with_device("nbd 127.0.0.1")), HasSubstr("has no port"));
  EXPECT_THAT(load_error(with_device("nbd localhost:10809")),
              HasSubstr("'localhost' is not a numeric ipv4 address"));
  EXPECT_THAT(load_error(with_device("nbd ::1:10809")), HasSubstr("IPv6 goes in brackets"));
  EXPECT_THAT(load_error(with_device("nbd [::1:10809")), HasSubstr("unbalanced"));
  EXPECT_THAT(load_error(with_device("nbd 127.0.0.1:0")), HasSubstr("out of range"));
  EXPECT_THAT(load_error(with_device("nbd 127.0.0.1:1 127.0.0.1:2")),
              HasSubstr("two TCP addresses"));
  EXPECT_THAT(load_error(with_device("nbd /dev/sda")), HasSubstr("is not a kernel nbd device"));
  EXPECT_THAT(load_error(with_device("nbd /dev/nbd1 /dev/nbd2")), HasSubstr("two kernel devices"));
  EXPECT_THAT(load_error(with_device("fuse relative/dir")), HasSubstr("absolute path"));
  EXPECT_THAT(load_error(with_device("fuse /a /b")), HasSubstr("at most one mount point"));
  EXPECT_THAT(load_error(with_device("fuse /mnt/")), HasSubstr("trailing '/'"));
  EXPECT_THAT(load_error(with_device("fuse fuse")), HasSubstr("names fuse twice"));
  EXPECT_THAT(load_error(with_device("ublk x")), HasSubstr("is not a number"));
  EXPECT_THAT(load_error(with_device("ublk 1048576")), HasSubstr("out of range"));
  EXPECT_THAT(load_error(with_device("ublk 1 2")), HasSubstr("at most one device number"));
  EXPECT_THAT(load_error(with_device("nbd loop")), HasSubstr("NBD listen address 'loop'"));
  EXPECT_THAT(load_error(with_device("/dev/vda")),
              HasSubstr("must be nbd, /dev/drbdN or /dev/drbd_NAME (or another frontend: fuse, "
                        "ublk)"));
}

TEST(Device, OneHostCannotShareAFrontendBetweenResources) {
  auto two_resources = [](const std::string& dev0, const std::string& dev1) {
    std::string out;
    int n = 0;
    for (const std::string& dev : {dev0, dev1}) {
      const std::string port = std::to_string(7789 + n);
      const std::string disk = "/dev/sd" + std::string(1, static_cast<char>('a' + n));
      out += "resource r" + std::to_string(n) + " {\n" + "  on alpha { device " + dev + "; disk " +
             disk + "; meta-disk internal; address 10.0.0.1:" + port + "; }\n" +
             "  on beta { device nbd; disk " + disk +
             "; meta-disk internal; address 10.0.0.2:" + port + "; }\n}\n";
      ++n;
    }
    return out;
  };
  EXPECT_THAT(load_error(two_resources("nbd 0.0.0.0:10809", "nbd 127.0.0.1:10809")),
              HasSubstr("uses NBD TCP port 10809 on host alpha, already used by resource r0"));
  EXPECT_THAT(load_error(two_resources("fuse /mnt/x", "fuse /mnt/x")),
              HasSubstr("FUSE mount point /mnt/x"));
  EXPECT_THAT(load_error(two_resources("nbd /dev/nbd0", "nbd /dev/nbd0")),
              HasSubstr("kernel device /dev/nbd0"));
  EXPECT_THAT(load_error(two_resources("ublk 3", "ublk 3")), HasSubstr("ublk device number 3"));
  EXPECT_EQ(load_error(two_resources("nbd 0.0.0.0:10809 fuse", "nbd 0.0.0.0:10810 fuse")),
            "<loaded without error>");
}

TEST(Device, DumpRoundTripsEveryForm) {
  for (const std::string args :
       {"nbd", "nbd 127.0.0.1:10809", "nbd [::1]:10809 /dev/nbd0", "nbd /dev/nbd15", "fuse",
        "fuse /srv/tandem/r0", "fuse \"/srv/with space\"", "ublk", "ublk 12",
        "nbd 10.0.0.1:1 fuse /m ublk 0", "/dev/drbd0 minor 0", "/dev/drbd_mail minor 9"}) {
    Result<Config> first = load_string(with_device(args), "d.conf");
    ASSERT_TRUE(first.ok()) << args << ": " << first.error().message;
    const std::string dumped = dump_config(*first, "alpha");
    Result<Config> second = load_string(dumped, "dump.conf");
    ASSERT_TRUE(second.ok()) << args << ": " << second.error().message << "\n" << dumped;
    const Device a = first->resolve("r0", "alpha")->volumes()[0].device;
    const Device b = second->resolve("r0", "alpha")->volumes()[0].device;
    EXPECT_EQ(a, b) << args << "\n" << dumped;
    EXPECT_THAT(dumped, HasSubstr("device " + device_text(a) + ";"));
  }
}

}  // namespace
}  // namespace tandem::config
