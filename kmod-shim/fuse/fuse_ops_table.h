// The libfuse low-level operation table of FuseFileServer (FUSE_USE_VERSION
// comes from the build).
#pragma once

#include <fuse_lowlevel.h>

namespace tandem::fuse {

const fuse_lowlevel_ops& file_ops();

}  // namespace tandem::fuse
