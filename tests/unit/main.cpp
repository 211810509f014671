#define CATCH_CONFIG_MAIN
// gcc 12 with -fsanitize=address reports a false -Wmaybe-uninitialized
// inside <regex>, which Catch's main pulls in, at the point the code is
// optimised (after any pop); the sanitizer preset builds with -Werror.
// This file holds nothing but Catch's main, so the warning is off for it.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <catch2/catch.hpp>
