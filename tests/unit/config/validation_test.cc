// Every configuration error an administrator can make that the issue lists,
// and more: each must fail with file:line and a hint.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/options.h"
#include "test_configs.h"

namespace tandem::config {
namespace {

using test::load_error;
using test::resource_with;
using test::two_hosts;
using ::testing::HasSubstr;

TEST(Validation, UnknownKeywordSuggestsNearest) {
  const std::string e = load_error(resource_with("  net {\n    ping-intt 5;\n  }"));
  EXPECT_THAT(e, HasSubstr("t.conf:3: unknown option 'ping-intt' in net { }"));
  EXPECT_THAT(e, HasSubstr("did you mean 'ping-int'?"));
}

TEST(Validation, UnknownSectionKeywordSuggestsNearest) {
  EXPECT_THAT(load_error("resorce r0 { }"), HasSubstr("t.conf:1: unknown keyword 'resorce'"));
  EXPECT_THAT(load_error("resorce r0 { }"), HasSubstr("did you mean 'resource'?"));
  EXPECT_THAT(load_error(resource_with("  startup { become-primary-onn both; }")),
              HasSubstr("did you mean 'become-primary-on'?"));
  EXPECT_THAT(load_error(resource_with("  handlers { split-brian \"x\"; }")),
              HasSubstr("did you mean 'split-brain'?"));
}

TEST(Validation, OptionInWrongSectionSaysWhereItBelongs) {
  EXPECT_THAT(load_error(resource_with("  net { al-extents 300; }")),
              HasSubstr("'al-extents' belongs in a disk { } section"));
  EXPECT_THAT(load_error(resource_with("  al-extents 300;")),
              HasSubstr("'al-extents' belongs in a disk { } section"));
}

TEST(Validation, SyncerTakesOnlyItsOwnKeywords) {
  EXPECT_THAT(
      load_error(resource_with("  syncer { fencing resource-only; }")),
      HasSubstr("unknown option 'fencing' in syncer { }; it belongs in a disk { } section"));
  EXPECT_THAT(load_error(resource_with("  syncer { rte 10M; }")),
              HasSubstr("did you mean 'rate'?"));
}

TEST(Validation, UnimplementedDrbdOptionIsNamed) {
  EXPECT_THAT(load_error(resource_with("  net { max-epoch-size 100; }")),
              HasSubstr("'max-epoch-size' is a DRBD option tandem does not implement"));
}

TEST(Validation, BecomePrimaryOnBothNeedsAllowTwoPrimaries) {
  const std::string e = load_error(resource_with("  startup {\n    become-primary-on both;\n  }"));
  EXPECT_THAT(e, HasSubstr("t.conf:3: resource r0: become-primary-on both"));
  EXPECT_THAT(e, HasSubstr("add 'allow-two-primaries yes;'"));
  EXPECT_TRUE(load_string(resource_with("  net { allow-two-primaries; }\n"
                                        "  startup { become-primary-on both; }"),
                          "t.conf")
                  .ok());
}

TEST(Validation, BecomePrimaryOnBothHostsByNameNeedsAllowTwoPrimaries) {
  EXPECT_THAT(load_error(resource_with("  startup { become-primary-on alpha beta; }")),
              HasSubstr("allow-two-primaries is not set"));
  EXPECT_TRUE(load_string(resource_with("  startup { become-primary-on alpha; }"), "t").ok());
}

TEST(Validation, BecomePrimaryOnUnknownHost) {
  EXPECT_THAT(load_error(resource_with("  startup { become-primary-on gamma; }")),
              HasSubstr("become-primary-on names host gamma, which has no 'on' section"));
}

TEST(Validation, TwoPrimariesNeedProtocolC) {
  const std::string e =
      load_error(resource_with("  protocol A;\n  net {\n    allow-two-primaries yes;\n  }"));
  EXPECT_THAT(e, HasSubstr("t.conf:4: resource r0: allow-two-primaries needs protocol C"));
  EXPECT_THAT(e, HasSubstr("protocol A is in effect (set at t.conf:2)"));
  // Inherited from common, too.
  EXPECT_THAT(load_error("common { net { protocol B; } }\n" +
                         resource_with("  net { allow-two-primaries; }")),
              HasSubstr("needs protocol C"));
}

TEST(Validation, TwoHostsWithSameAddress) {
  const std::string e = load_error(
      "resource r0 {\n"
      "  on alpha { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address 10.0.0.1:7789; "
      "}\n"
      "  on beta {\n"
      "    device /dev/drbd0; disk /dev/sda1; meta-disk internal;\n"
      "    address 10.0.0.1:7789;\n"
      "  }\n"
      "}\n");
  EXPECT_THAT(e, HasSubstr("t.conf:5: resource r0: hosts alpha and beta both use address ipv4 "
                           "10.0.0.1:7789"));
}

TEST(Validation, SameAddressInTwoResources) {
  const std::string r1 =
      "resource r1 {\n"
      "  on alpha { device /dev/drbd1; disk /dev/sda2; meta-disk internal; address 10.0.0.1:7789; "
      "}\n"
      "  on beta { device /dev/drbd1; disk /dev/sda2; meta-disk internal; address 10.0.0.2:7790; "
      "}\n"
      "}\n";
  EXPECT_THAT(load_error(resource_with("") + r1), HasSubstr("already used by resource r0"));
}

TEST(Validation, HostWithoutAddress) {
  const std::string e = load_error(
      "resource r0 {\n"
      "  on alpha { device /dev/drbd0; disk /dev/sda1; meta-disk internal; }\n"
      "  on beta { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address 10.0.0.2:7789; "
      "}\n"
      "}\n");
  EXPECT_THAT(e, HasSubstr("t.conf:2: resource r0, host alpha has no address"));
}

TEST(Validation, ResourceWithFewerThanTwoHosts) {
  const std::string e = load_error(
      "resource r0 {\n"
      "  on alpha { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address 10.0.0.1:7789; "
      "}\n"
      "}\n");
  EXPECT_THAT(e, HasSubstr("t.conf:1: resource r0 has 1 host section(s); a mirror needs two"));
  EXPECT_THAT(load_error("resource r0 { }"), HasSubstr("has 0 host section(s)"));
}

TEST(Validation, MoreThanTwoHostsNeedNodeIds) {
  const std::string three =
      "resource r0 {\n"
      "  on a { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address 10.0.0.1:7789; %A "
      "}\n"
      "  on b { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address 10.0.0.2:7789; %B "
      "}\n"
      "  on c { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address 10.0.0.3:7789; %C "
      "}\n"
      "}\n";
  auto fill = [&](const std::string& a, const std::string& b, const std::string& c) {
    std::string s = three;
    s.replace(s.find("%A"), 2, a);
    s.replace(s.find("%B"), 2, b);
    s.replace(s.find("%C"), 2, c);
    return s;
  };
  EXPECT_THAT(load_error(fill("", "", "")), HasSubstr("needs a node-id"));
  EXPECT_THAT(load_error(fill("node-id 0;", "node-id 1;", "node-id 1;")),
              HasSubstr("both have node-id 1"));
  EXPECT_TRUE(load_string(fill("node-id 0;", "node-id 1;", "node-id 2;"), "t").ok());
  EXPECT_THAT(load_error(fill("node-id 32;", "", "")), HasSubstr("out of range 0..31"));
}

TEST(Validation, SizesOutOfRange) {
  EXPECT_THAT(load_error(resource_with("  disk {\n    resync-rate 9G;\n  }")),
              HasSubstr("t.conf:3: resync-rate 9G is out of range: allowed 1..4194304 KiB/s "
                        "(the value means 9437184)"));
  EXPECT_THAT(load_error(resource_with("  disk { resync-rate 0; }")), HasSubstr("out of range"));
  EXPECT_THAT(load_error(resource_with("  disk { al-extents 10; }")),
              HasSubstr("al-extents 10 is out of range: allowed 67..65534"));
  EXPECT_THAT(load_error(resource_with("  disk { al-extents 65535; }")), HasSubstr("out of range"));
  EXPECT_THAT(load_error(resource_with("  net { sndbuf-size 11M; }")),
              HasSubstr("allowed 0..10485760 bytes"));
  EXPECT_THAT(load_error(resource_with("  net { max-buffers 31; }")), HasSubstr("out of range"));
  EXPECT_THAT(load_error(resource_with("  net { ping-timeout 301; }")), HasSubstr("out of range"));
  EXPECT_THAT(load_error(resource_with("  net { ko-count 201; }")), HasSubstr("out of range"));
  EXPECT_THAT(load_error(resource_with("  disk { c-max-rate 249; }")), HasSubstr("out of range"));
  EXPECT_THAT(load_error(resource_with("  disk { c-fill-target 513M; }")),
              HasSubstr("out of range"));
  EXPECT_THAT(load_error(resource_with("  startup { wfc-timeout 300001; }")),
              HasSubstr("out of range"));
  EXPECT_THAT(load_error("global { minor-count 256; }\n" + resource_with("")),
              HasSubstr("out of range"));
}

TEST(Validation, NumbersMustBeNumbers) {
  EXPECT_THAT(load_error(resource_with("  net { ping-int fast; }")), HasSubstr("not a number"));
  EXPECT_THAT(load_error(resource_with("  net { ping-int 5K; }")),
              HasSubstr("takes no size suffix"));
  EXPECT_THAT(load_error(resource_with("  disk { resync-rate 10X; }")),
              HasSubstr("optional K, M or G suffix"));
  EXPECT_THAT(load_error(resource_with("  disk { resync-rate 99999999999999999999; }")),
              HasSubstr("too large"));
  EXPECT_THAT(load_error(resource_with("  disk { resync-rate; }")),
              HasSubstr("needs exactly one number"));
}

TEST(Validation, EnumValuesListAlternatives) {
  const std::string e =
      load_error(resource_with("  net { after-sb-1pri discard-younger-primary; }"));
  EXPECT_THAT(e, HasSubstr("'discard-younger-primary' is not a value of after-sb-1pri"));
  EXPECT_THAT(e, HasSubstr("discard-secondary"));
  EXPECT_THAT(load_error(resource_with("  protocol D;")), HasSubstr("use one of: A, B, C"));
  EXPECT_THAT(load_error(resource_with("  disk { on-io-error panic; }")),
              HasSubstr("pass_on, call-local-io-error, detach"));
  EXPECT_THAT(load_error(resource_with("  disk { fencing stonith; }")),
              HasSubstr("not a value of fencing"));
}

TEST(Validation, EveryAfterSbValueIsAccepted) {
  for (const char* v :
       {"disconnect", "discard-younger-primary", "discard-older-primary", "discard-zero-changes",
        "discard-least-changes", "discard-local", "discard-remote"}) {
    EXPECT_TRUE(
        load_string(resource_with(std::string("  net { after-sb-0pri ") + v + "; }"), "t").ok())
        << v;
  }
  for (const char* v : {"disconnect", "consensus", "violently-as0p", "discard-secondary",
                        "call-pri-lost-after-sb"}) {
    EXPECT_TRUE(
        load_string(resource_with(std::string("  net { after-sb-1pri ") + v + "; }"), "t").ok())
        << v;
  }
  for (const char* v : {"disconnect", "violently-as0p", "call-pri-lost-after-sb"}) {
    EXPECT_TRUE(
        load_string(resource_with(std::string("  net { after-sb-2pri ") + v + "; }"), "t").ok())
        << v;
  }
  for (const char* v :
       {"disconnect", "call-pri-lost", "violently", "retry-connect", "auto-discard"}) {
    EXPECT_TRUE(
        load_string(resource_with(std::string("  net { rr-conflict ") + v + "; }"), "t").ok())
        << v;
  }
}

TEST(Validation, EveryHandlerNameIsAccepted) {
  for (std::string_view h : handler_names()) {
    EXPECT_TRUE(
        load_string(resource_with("  handlers { " + std::string(h) + " \"/bin/true\"; }"), "t")
            .ok())
        << h;
  }
  EXPECT_THAT(load_error(resource_with("  handlers { split-brain; }")),
              HasSubstr("needs one command"));
}

TEST(Validation, DigestsAndSecrets) {
  EXPECT_THAT(load_error(resource_with("  net { verify-alg sha2; }")),
              HasSubstr("'sha2' is not a digest tandem supports for verify-alg"));
  EXPECT_THAT(
      load_error(resource_with("  net { shared-secret \"" + std::string(65, 'x') + "\"; }")),
      HasSubstr("1 to 64 bytes"));
  EXPECT_TRUE(load_string(resource_with("  net { cram-hmac-alg sha256; shared-secret \"s e\"; "
                                        "csums-alg md5; data-integrity-alg crc32c; }"),
                          "t")
                  .ok());
}

TEST(Validation, DuplicateOptionInOneSection) {
  const std::string e = load_error(resource_with("  net {\n    ping-int 5;\n    ping-int 6;\n  }"));
  EXPECT_THAT(e, HasSubstr("t.conf:4: 'ping-int' is set twice at this level (first at t.conf:3)"));
}

TEST(Validation, DuplicateOptionAcrossSectionsOfOneLevel) {
  EXPECT_THAT(load_error(resource_with("  net { verify-alg sha1; }\n  syncer { verify-alg md5; }")),
              HasSubstr("t.conf:3: 'verify-alg' is set twice at this level (first at t.conf:2)"));
  EXPECT_THAT(load_error(resource_with("  protocol A;\n  net { protocol B; }")),
              HasSubstr("'protocol' is set twice"));
  EXPECT_THAT(load_error(resource_with("  handlers { split-brain \"a\"; }\n"
                                       "  handlers { split-brain \"b\"; }")),
              HasSubstr("handler 'split-brain' is set twice"));
  // Different levels are inheritance, not repetition.
  EXPECT_TRUE(
      load_string("common { net { ping-int 5; } }\n" + resource_with("  net { ping-int 6; }"), "t")
          .ok());
}

TEST(Validation, DuplicateStructure) {
  EXPECT_THAT(load_error("global { }\nglobal { }\n" + resource_with("")),
              HasSubstr("t.conf:2: second global section"));
  EXPECT_THAT(load_error(resource_with("") + resource_with("")),
              HasSubstr("resource r0 is defined twice"));
  EXPECT_THAT(load_error("resource r0 {\n" + two_hosts() +
                         "  on alpha { device /dev/drbd0; disk /dev/sda1; meta-disk internal; "
                         "address 10.0.0.3:7789; }\n}\n"),
              HasSubstr("host alpha appears in two sections"));
}

TEST(Validation, VolumeFieldsRequired) {
  const std::string e = load_error(
      "resource r0 {\n"
      "  on alpha { device /dev/drbd0; address 10.0.0.1:7789; }\n"
      "  on beta { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address 10.0.0.2:7789; "
      "}\n"
      "}\n");
  EXPECT_THAT(e, HasSubstr("t.conf:2: resource r0, host alpha, volume 0 has no disk"));
  EXPECT_THAT(e, HasSubstr("has no meta-disk"));
}

TEST(Validation, VolumesMustMatchAcrossHosts) {
  const std::string e = load_error(
      "resource r0 {\n"
      "  on alpha { volume 0 { device /dev/drbd0; disk /dev/sda1; meta-disk internal; }\n"
      "             volume 1 { device /dev/drbd1; disk /dev/sda2; meta-disk internal; }\n"
      "             address 10.0.0.1:7789; }\n"
      "  on beta { volume 0 { device /dev/drbd0; disk /dev/sda1; meta-disk internal; }\n"
      "            address 10.0.0.2:7789; }\n"
      "}\n");
  EXPECT_THAT(e, HasSubstr("host beta has different volume numbers than alpha"));
}

TEST(Validation, MixingImplicitAndExplicitVolumes) {
  EXPECT_THAT(load_error("resource r0 {\n"
                         "  on alpha { device /dev/drbd0; volume 1 { device /dev/drbd1; } }\n"
                         "}\n"),
              HasSubstr("cannot be mixed"));
}

TEST(Validation, DeviceForms) {
  EXPECT_THAT(load_error(resource_with("  device /dev/mirror minor 1;")),
              HasSubstr("must be nbd, /dev/drbdN or /dev/drbd_NAME"));
  EXPECT_THAT(load_error(resource_with("  device /dev/drbd_mirror;")),
              HasSubstr("write device /dev/drbd_mirror minor N;"));
  EXPECT_THAT(load_error(resource_with("  device /dev/drbd5 minor 7;")),
              HasSubstr("has minor 5 in its name but minor 7 is given"));
  EXPECT_THAT(load_error(resource_with("  device minor 2000000;")), HasSubstr("out of range"));
  EXPECT_THAT(load_error(resource_with("  device drbd0;")), HasSubstr("must be nbd"));
  EXPECT_THAT(load_error(resource_with("  device nbd minor 3;")),
              HasSubstr("device nbd takes no minor number"));
}

TEST(Validation, DuplicateMinorOnOneHost) {
  const std::string r1 =
      "resource r1 {\n"
      "  on alpha { device /dev/drbd0; disk /dev/sdb1; meta-disk internal; address 10.0.0.1:7790; "
      "}\n"
      "  on beta { device /dev/drbd1; disk /dev/sdb1; meta-disk internal; address 10.0.0.2:7790; "
      "}\n"
      "}\n";
  EXPECT_THAT(load_error(resource_with("") + r1), HasSubstr("uses minor 0 on host alpha"));
}

TEST(Validation, DuplicateDiskOnOneHost) {
  const std::string r1 =
      "resource r1 {\n"
      "  on alpha { device /dev/drbd1; disk /dev/sda1; meta-disk internal; address 10.0.0.1:7790; "
      "}\n"
      "  on beta { device /dev/drbd1; disk /dev/sdb1; meta-disk internal; address 10.0.0.2:7790; "
      "}\n"
      "}\n";
  EXPECT_THAT(load_error(resource_with("") + r1), HasSubstr("uses disk /dev/sda1 on host alpha"));
}

TEST(Validation, MetaDiskForms) {
  EXPECT_THAT(load_error("resource r0 {\n" + two_hosts() + "}\n" +
                         "resource r1 { on a { meta-disk /dev/x [a]; } }"),
              HasSubstr("meta-disk index"));
  EXPECT_THAT(load_error("resource r1 { on a { meta-disk inside; } }"),
              HasSubstr("neither 'internal' nor an absolute path"));
  EXPECT_THAT(load_error("resource r1 { on a { flexible-meta-disk /dev/x [1]; } }"),
              HasSubstr("'[1]' must be written in double quotes"));
}

TEST(Validation, AddressForms) {
  auto with_address = [](const std::string& a) {
    return "resource r0 {\n"
           "  on alpha { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address " +
           a +
           "; }\n"
           "  on beta { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address "
           "10.0.0.2:7789; }\n}\n";
  };
  EXPECT_THAT(load_error(with_address("10.0.0.1")), HasSubstr("has no port"));
  EXPECT_THAT(load_error(with_address("10.0.0.1:0")), HasSubstr("out of range 1..65535"));
  EXPECT_THAT(load_error(with_address("10.0.0.1:70000")), HasSubstr("out of range"));
  EXPECT_THAT(load_error(with_address("mail01:7789")), HasSubstr("not a numeric ipv4 address"));
  EXPECT_THAT(load_error(with_address("ipv6 fd00::1:7789")), HasSubstr("in brackets"));
  EXPECT_THAT(load_error(with_address("sdp 10.0.0.1:7789")), HasSubstr("not supported"));
  EXPECT_THAT(load_error(with_address("[fd00::1]:7789")), HasSubstr("write 'address ipv6"));
  EXPECT_THAT(load_error(with_address("ipv4 [fd00::1]:7789")), HasSubstr("declared ipv4"));
  EXPECT_THAT(load_error(with_address("10.0.0.300:7789")), HasSubstr("not a numeric ipv4"));
  EXPECT_TRUE(load_string(with_address("ipv6 [fd00::1]:7789"), "t").ok());
  EXPECT_TRUE(load_string(with_address("ipv4 10.0.0.1:7789"), "t").ok());
}

TEST(Validation, IncludeOnlyAtTopLevel) {
  EXPECT_THAT(load_error(resource_with("  include \"x.conf\";")),
              HasSubstr("include is only allowed at the top level"));
}

TEST(Validation, UnsupportedDrbd9Structure) {
  EXPECT_THAT(load_error(resource_with("  connection-mesh { hosts alpha beta; }")),
              HasSubstr("DRBD feature tandem does not support"));
}

TEST(Validation, ResyncAfter) {
  EXPECT_THAT(load_error(resource_with("  disk { resync-after r9; }")),
              HasSubstr("resync-after names resource r9, which is not defined"));
  EXPECT_THAT(load_error(resource_with("  disk { resync-after r0; }")), HasSubstr("cycle"));
}

TEST(Validation, ReportsSeveralErrorsAtOnce) {
  const std::string e = load_error(resource_with("  net { ping-int 0; timeout 0; }"));
  EXPECT_THAT(e, HasSubstr("ping-int 0 is out of range"));
  EXPECT_THAT(e, HasSubstr("timeout 0 is out of range"));
}

TEST(Validation, WordsThatMustNotBeQuoted) {
  EXPECT_THAT(load_error(resource_with("  net { allow-two-primaries \"yes\"; }")),
              HasSubstr("takes no value, 'yes' or 'no'"));
  EXPECT_THAT(load_error("global { disable-ip-verification yes; }\n" + resource_with("")),
              HasSubstr("takes no value: write 'disable-ip-verification;'"));
  EXPECT_THAT(load_error("resource r0 { on a { address \"10.0.0.1:7789\"; } }"),
              HasSubstr("without quotes"));
  EXPECT_THAT(load_error("resource r0 { on a { device /dev/drbd0 \"minor\" 0; } }"),
              HasSubstr("cannot read the device line"));
  EXPECT_THAT(load_error("resource r0 { on a { volume \"0\" { } } }"), HasSubstr("unquoted"));
  // Paths and enum values may be quoted, as in DRBD.
  EXPECT_TRUE(load_string(resource_with("  disk { on-io-error \"detach\"; }"), "t").ok());
}

TEST(Validation, KeywordsAsNamesMustBeQuoted) {
  EXPECT_THAT(
      load_error("resource net { }"),
      HasSubstr("'net' is a keyword or number in the configuration language and cannot be a "
                "resource name as it stands; write it in quotes"));
  EXPECT_THAT(load_error("resource r0 { on ping-int { } }"), HasSubstr("cannot be a host name"));
  EXPECT_THAT(load_error("resource r0 { on alpha no { } }"), HasSubstr("'no' is a keyword"));
  EXPECT_THAT(load_error("resource r0 { on 12 { } }"), HasSubstr("'12' is a keyword or number"));
  EXPECT_THAT(load_error("resource 1K { }"), HasSubstr("'1K' is a keyword or number"));
  EXPECT_THAT(load_error("resource r0 { on 10.0.0.9 { } }"), HasSubstr("is a keyword"));
  EXPECT_THAT(load_error("resource r0 { on 3par { } }"), ::testing::Not(HasSubstr("keyword")));
  // Enum values and DRBD 9 words are not reserved in the 8.4 grammar.
  EXPECT_THAT(load_error("resource r0 { on detach { } }"), ::testing::Not(HasSubstr("keyword")));
}

TEST(Validation, StraySemicolon) {
  EXPECT_THAT(load_error(resource_with("  ;")), HasSubstr("t.conf:2: ';' without a statement"));
}

TEST(Validation, VolumeFormsNotMixedWithinResource) {
  const std::string e = load_error(
      "resource r0 {\n"
      "  on alpha { device /dev/drbd0; disk /dev/sda1; meta-disk internal; address 10.0.0.1:7789; "
      "}\n"
      "  on beta { volume 0 { device /dev/drbd0; disk /dev/sda1; meta-disk internal; }\n"
      "            address 10.0.0.2:7789; }\n"
      "}\n");
  EXPECT_THAT(e, HasSubstr("t.conf:3: resource r0 mixes volume sections (first at t.conf:3)"));
}

TEST(Validation, CpuMaskIsHex) {
  EXPECT_THAT(load_error(resource_with("  options { cpu-mask ff,ff; }")),
              HasSubstr("must be written in double quotes"));
  EXPECT_THAT(load_error(resource_with("  options { cpu-mask \"ff,ff\"; }")),
              HasSubstr("not a hexadecimal mask"));
  EXPECT_THAT(load_error(resource_with("  options { cpu-mask xyz; }")),
              HasSubstr("not a hexadecimal mask"));
}

// The administrator's scenario file from the project notes: incomplete on
// purpose (no addresses, become-primary-on both without allow-two-primaries).
TEST(Validation, ScenarioFileIsRejectedPrecisely) {
  const std::string scenario =
      "global { usage-count yes; }\n"
      "common { protocol C; }\n"
      "resource r0 {\n"
      "  net {\n"
      "    after-sb-0pri discard-zero-changes;\n"
      "    after-sb-1pri discard-secondary;\n"
      "    after-sb-2pri disconnect;\n"
      "  }\n"
      "  syncer { verify-alg sha1; }\n"
      "  startup { become-primary-on both; }\n"
      "  on mail01 { device /dev/drbd0; disk /dev/vg01/mailmirror; meta-disk internal; }\n"
      "  on mail02 { device /dev/drbd0; disk /dev/vg01/mailmirror; meta-disk internal; }\n"
      "}\n";
  const std::string e = load_error(scenario, "drbd.conf");
  EXPECT_THAT(e, HasSubstr("drbd.conf:11: resource r0, host mail01 has no address"));
  EXPECT_THAT(e, HasSubstr("drbd.conf:12: resource r0, host mail02 has no address"));
  EXPECT_THAT(e, HasSubstr("drbd.conf:10: resource r0: become-primary-on both makes both hosts "
                           "primary, but allow-two-primaries is not set"));
}

}  // namespace
}  // namespace tandem::config
