# The export list of libsandbox.so is the interpose table plus the C API,
# nothing more and nothing less; the module exports only its record.
set(ts_exports_args $<TARGET_FILE:sandbox> ${PROJECT_BINARY_DIR}/libsandbox/interposed_symbols.txt
                    ${PROJECT_BINARY_DIR}/libsandbox/c_api_symbols.txt)
if(TARGET mod_tenant_tag)
  list(APPEND ts_exports_args $<TARGET_FILE:mod_tenant_tag>)
endif()
add_test(NAME probe.exports COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_exports.sh ${ts_exports_args})
set_tests_properties(probe.exports PROPERTIES LABELS probe)
