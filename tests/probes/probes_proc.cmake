# Probes of the process part: exec family, spawn, system/popen, threads,
# signals, syscall(), and the control channel. See each proc_*.c header for
# why it fails without the wrapper it exercises.

# A statically linked program (ignores LD_PRELOAD): listed on site-a's exec
# list by proc_exec.policy.json as @ROOT@/../../proc_static_hello, i.e. this
# folder, where the fixture root work/<probe> lives.
add_executable(proc_static_hello proc_static_hello.c)
target_compile_options(proc_static_hello PRIVATE -Wall -Wextra)
target_link_options(proc_static_hello PRIVATE -static)
set_target_properties(proc_static_hello PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})

ts_add_probe(proc_exec SOURCES proc_exec.c MODE run)
foreach(v plain fortify lfs)
  add_dependencies(probe_proc_exec_${v} proc_static_hello)
endforeach()

ts_add_probe(proc_noshell SOURCES proc_noshell.c MODE run)

ts_add_probe(proc_signal SOURCES proc_signal.c MODE run)

# Stands in for PHP FFI / an extension calling the C API from its own code.
# No sibling calls: `return f(id);` compiled as a tail jump would leave the
# probe's (the claimant's) return address in place, and libffi's ffi_call,
# which this simulates, makes a real call.
add_library(proc_ffi_lib SHARED proc_ffi_lib.c)
target_compile_options(proc_ffi_lib PRIVATE -Wall -Wextra -fno-optimize-sibling-calls)
target_link_libraries(proc_ffi_lib PRIVATE ${CMAKE_DL_LIBS})
ts_add_probe(proc_control SOURCES proc_control.c MODE preload ARGS $<TARGET_FILE:proc_ffi_lib>)
foreach(v plain fortify lfs)
  add_dependencies(probe_proc_control_${v} proc_ffi_lib)
endforeach()

# `tenant-sandbox run` itself: statuses, located errors, env protocol.
add_test(NAME probe.proc_cli
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/proc_cli.sh $<TARGET_FILE:tenant-sandbox> $<TARGET_FILE:sandbox>)
set_tests_properties(probe.proc_cli PROPERTIES LABELS probe TIMEOUT 60)
