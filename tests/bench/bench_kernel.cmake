# Per-request cost of the kernel layer (thread + Landlock ruleset + seccomp),
# p50/p99 per iteration. Included by tests/bench/CMakeLists.txt (bench_*.cmake).
if(TARGET tenant_kernel)
  add_executable(bench_kernel_confine ${CMAKE_CURRENT_LIST_DIR}/bench_kernel_confine.cpp)
  target_link_libraries(bench_kernel_confine PRIVATE tenant_kernel benchmark::benchmark pthread)
endif()
