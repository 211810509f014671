# Probes of the denial log (runtime.cpp refuse()) and the C API extension
# sandbox_set_request_info (control.cpp). Both MODE preload: the probe is
# the claimant, as the module is in Apache.
add_library(logs_ffi_lib SHARED logs_ffi_lib.c)
target_compile_options(logs_ffi_lib PRIVATE -Wall -Wextra -fno-optimize-sibling-calls)
target_link_libraries(logs_ffi_lib PRIVATE ${CMAKE_DL_LIBS})
ts_add_probe(logs_request SOURCES logs_request.c MODE preload ARGS $<TARGET_FILE:logs_ffi_lib>)
foreach(v plain fortify lfs)
  add_dependencies(probe_logs_request_${v} logs_ffi_lib)
endforeach()

ts_add_probe(logs_flood SOURCES logs_flood.c MODE preload)
