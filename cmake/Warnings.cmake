# Warnings apply to tandem's own targets only (generated protobuf code is
# compiled without -Werror, see userspace/proto).
add_library(tandem_warnings INTERFACE)
target_compile_options(tandem_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wconversion -Wsign-conversion
  -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(TANDEM_WERROR)
  target_compile_options(tandem_warnings INTERFACE -Werror)
endif()
# g++ 12 at -O3 reports -Wrestrict inside libstdc++ for `"text" + string`
# (GCC bug 105329, a false positive in basic_string::insert); keep it a
# warning there so that Release builds are not refused for it.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(tandem_warnings INTERFACE -Wno-error=restrict)
endif()

# tandem_add_library(NAME SOURCES... [DEPS ...]) and tandem_add_executable:
# every first-party target gets the warnings and the sanitizer flags.
function(tandem_target_defaults target)
  target_link_libraries(${target} PRIVATE tandem_warnings)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/userspace)
endfunction()
