# Kernel layer probes (issue 4). Not ts_add_probe: the probe confines itself
# with tenant_kernel (confine_thread, apply_worker_baseline) instead of going
# through `tenant-sandbox run`, and runs with no preload library at all, so a
# pass can only come from the kernel. run_probe.sh builds the fixture
# (policy: kernel_confine.policy.json); its "preload" mode with an empty
# library path starts the probe with an empty LD_PRELOAD.
if(TARGET tenant_kernel)
  add_executable(kernel_static_hello kernel_static_hello.c)
  target_compile_options(kernel_static_hello PRIVATE -Wall -Wextra)
  target_link_options(kernel_static_hello PRIVATE -static)

  add_executable(kernel_confine_probe kernel_confine_probe.cpp)
  target_compile_definitions(kernel_confine_probe PRIVATE _GNU_SOURCE)
  target_compile_options(kernel_confine_probe PRIVATE -Wall -Wextra)
  target_link_libraries(kernel_confine_probe PRIVATE tenant_kernel pthread)

  add_test(NAME probe.kernel_confine
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run_probe.sh preload kernel_confine "" ""
            $<TARGET_FILE:kernel_confine_probe> $<TARGET_FILE:kernel_static_hello>)
  set_tests_properties(probe.kernel_confine PROPERTIES LABELS "kernel;probe" TIMEOUT 120)
endif()

# `tenant-sandbox run` applies the kernel layers before exec (libsandbox/cli/
# run.cpp): raw syscall(SYS_openat/openat2/unlinkat), io_uring, kill and
# ptrace of a process outside the tenant's domain all fail in the command.
if(TARGET tenant_kernel)
  ts_add_probe(kernel_run_raw SOURCES kernel_run_raw.c MODE run VARIANTS plain)
endif()
