# Warnings as an INTERFACE target each target links (cmake_template style):
# nothing global, so a third-party header never decides our flags.
add_library(ts_warnings INTERFACE)
target_compile_options(ts_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wpedantic -Wconversion -Wsign-conversion
  -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
# The C parts (Apache module glue, probes) get the C subset.
add_library(ts_c_warnings INTERFACE)
target_compile_options(ts_c_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wformat=2 -Wimplicit-fallthrough -Wno-unused-parameter)
if(TS_WARNINGS_AS_ERRORS)
  target_compile_options(ts_warnings INTERFACE -Werror)
  target_compile_options(ts_c_warnings INTERFACE -Werror)
endif()
# GCC 12 at -O3 reports -Wrestrict inside std::string's operator+ (GCC PR
# 105651, fixed in 13): a false positive in libstdc++, not in our code.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(ts_warnings INTERFACE -Wno-restrict)
endif()
