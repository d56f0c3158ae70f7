# Every dependency comes from a Debian package; scripts/setup.sh installs them.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Protobuf REQUIRED)

pkg_check_modules(LIBQB REQUIRED IMPORTED_TARGET libqb)
pkg_check_modules(LIBURING REQUIRED IMPORTED_TARGET liburing)
pkg_check_modules(FUSE3 REQUIRED IMPORTED_TARGET fuse3)
pkg_check_modules(COROSYNC REQUIRED IMPORTED_TARGET libcpg libquorum libvotequorum libcmap libcfg)

if(TANDEM_TESTS)
  find_package(GTest REQUIRED)
endif()
if(TANDEM_BENCH)
  find_package(benchmark REQUIRED)
endif()
