# TS_SANITIZE=address,undefined or thread, set by the presets. The preload
# library is excluded from ASan/TSan on purpose: a sanitizer runtime must be
# the first object loaded, which an LD_PRELOAD library into Apache cannot
# be; the core it is built from is covered through the unit tests instead.
set(TS_SANITIZE "" CACHE STRING "Sanitizers for core, CLI and unit tests")
add_library(ts_sanitizers INTERFACE)
if(TS_SANITIZE)
  target_compile_options(ts_sanitizers INTERFACE -fsanitize=${TS_SANITIZE} -fno-omit-frame-pointer)
  target_link_options(ts_sanitizers INTERFACE -fsanitize=${TS_SANITIZE})
endif()
