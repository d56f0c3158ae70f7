// Checks of the core's own invariants. A violation means a bug in the core
// (never bad input: input is validated and answered with an error or a
// closed connection), and continuing could silently lose or corrupt data,
// so it stops the process in every build.
#pragma once

#include <cstdio>
#include <cstdlib>

#define TANDEM_INVARIANT(cond, what)                                                       \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "tandem core invariant violated at %s:%d: %s (%s)\n", __FILE__, \
                   __LINE__, what, #cond);                                                 \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
