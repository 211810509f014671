# Read by cpack (CPACK_PROJECT_CONFIG_FILE) before it stages the package.
# libsandbox's path is compiled into the CLI and written into the preload
# line at configure time, so a Debian package must come from a build
# configured with the prefix it is installed under: /usr.
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "tenant-sandbox: configure with -DCMAKE_INSTALL_PREFIX=/usr to build the "
                      "Debian package (this build installs under '${CPACK_PACKAGING_INSTALL_PREFIX}')")
endif()
