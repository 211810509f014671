# Installation of the operator-facing files (man page, preload line, state
# folder, example policy) and the Debian package (cpack -G DEB).
#
# One set of install() rules serves both `cmake --install` and cpack: the
# package is exactly what `cmake --install` puts on a machine, plus the
# maintainer scripts in packaging/debian/. Build with
#   cmake -S . -B build/release -DCMAKE_INSTALL_PREFIX=/usr -DTS_BUILD_TESTS=OFF -DTS_BUILD_BENCH=OFF
#   cmake --build build/release && (cd build/release && cpack -G DEB)
# The prefix must be /usr for a package: libsandbox's path is compiled into
# the CLI (TS_PRELOAD_PATH) and written into the preload line, so a package
# staged under another prefix would point at a library that is not there
# (packaging/debian/cpack-options.cmake refuses that).
#
# Included last from the top-level CMakeLists.txt, so the targets and
# TS_HTTPD_LIBEXECDIR (mod_tenant_tag/CMakeLists.txt) are known.

set(TS_SYSTEMD_UNITDIR "/lib/systemd/system" CACHE PATH
    "systemd's vendor unit folder (apache2.service.d/ drop-in with the preload line)")
set(TS_TMPFILES_DIR "/usr/lib/tmpfiles.d" CACHE PATH
    "systemd-tmpfiles vendor folder (creates /run/tenant-sandbox at boot)")
set(TS_POLICY_DIR "/etc/tenant-sandbox" CACHE PATH "Folder of the installed policy.json")

set(ts_pkg_src ${PROJECT_SOURCE_DIR}/packaging/debian)
set(ts_pkg_bin ${PROJECT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${ts_pkg_bin})

# The shipped conf/ files name libsandbox's Debian path literally (they are
# read by people); the installed copies name the folder this build installs to.
set(ts_lib_literal "/usr/lib/x86_64-linux-gnu/tenant-sandbox")
foreach(f apache2-systemd-tenant-sandbox.conf apache2-envvars.snippet)
  file(READ ${PROJECT_SOURCE_DIR}/conf/${f} ts_text)
  string(REPLACE "${ts_lib_literal}" "${TS_PRELOAD_DIR}" ts_text "${ts_text}")
  file(CONFIGURE OUTPUT ${ts_pkg_bin}/${f} CONTENT "${ts_text}" @ONLY)
endforeach()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/conf/apache2-systemd-tenant-sandbox.conf
  ${PROJECT_SOURCE_DIR}/conf/apache2-envvars.snippet)

# ---- the preload line ------------------------------------------------------
# systemd hosts: a drop-in for apache2.service in the vendor folder. It is a
# file of this package (not a conffile), so dpkg removes it together with
# libsandbox.so, and we never edit /etc/apache2/envvars (apache2's conffile).
# apache2.service runs `apachectl start`, and `apache2ctl start` typed by
# hand on a systemd host is turned into `systemctl start apache2`, so both
# paths get the preload. packaging/debian/README explains the choice.
# The same file for apache2@.service, Debian's multi-instance unit
# (apache2@NAME with /etc/apache2-NAME): a drop-in of apache2.service does not
# reach its instances, which would then answer every tenant request 503.
foreach(ts_unit apache2.service apache2@.service)
  install(FILES ${ts_pkg_bin}/apache2-systemd-tenant-sandbox.conf
          DESTINATION ${TS_SYSTEMD_UNITDIR}/${ts_unit}.d RENAME tenant-sandbox.conf)
endforeach()
# Hosts without systemd (containers, apache2ctl as PID 1's child): the same
# line for the admin to add to /etc/apache2/envvars; conditional on the
# library, so it is harmless once the package is gone.
install(FILES ${ts_pkg_bin}/apache2-envvars.snippet
        DESTINATION ${CMAKE_INSTALL_DATADIR}/tenant-sandbox)

# ---- bash completion ---------------------------------------------------------
# bash-completion loads completions/NAME on demand, the first time NAME is
# completed (so nothing to register, and nothing left behind on removal).
set(TS_BASH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" CACHE PATH
    "bash-completion's folder of on-demand completions")
install(FILES ${PROJECT_SOURCE_DIR}/packaging/bash-completion/tenant-sandbox DESTINATION ${TS_BASH_COMPLETION_DIR})

# ---- /run/tenant-sandbox ---------------------------------------------------
# root:www-data 3770 (docs/design.md): any process of Apache's group may
# create a missing table, the workers open them through the group.
install(FILES ${ts_pkg_src}/tenant-sandbox.tmpfiles
        DESTINATION ${TS_TMPFILES_DIR} RENAME tenant-sandbox.conf)

# ---- example policy ----------------------------------------------------------
# Never overwrite an operator's policy on a second `cmake --install`; in the
# package it is a conffile, so dpkg keeps the operator's copy on upgrades.
install(CODE "
  set(ts_dst \"\$ENV{DESTDIR}${TS_POLICY_DIR}/policy.json\")
  if(EXISTS \"\${ts_dst}\")
    message(STATUS \"Keeping existing: \${ts_dst}\")
  else()
    file(INSTALL DESTINATION \"${TS_POLICY_DIR}\" TYPE FILE
         FILES \"${PROJECT_SOURCE_DIR}/conf/policy.example.json\" RENAME policy.json
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()")

# ---- man page ---------------------------------------------------------------
# Hand-written roff (docs/man), installed gzipped (Debian policy 12.1),
# -n: no name or time stamp in the .gz, so the package is reproducible.
find_program(TS_GZIP gzip REQUIRED)
set(ts_man_src ${PROJECT_SOURCE_DIR}/docs/man/tenant-sandbox.1)
set(ts_man_gz ${PROJECT_BINARY_DIR}/docs/man/tenant-sandbox.1.gz)
add_custom_command(OUTPUT ${ts_man_gz}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/docs/man
  COMMAND ${TS_GZIP} -9 -n -c ${ts_man_src} > ${ts_man_gz}
  DEPENDS ${ts_man_src} VERBATIM)
add_custom_target(man_pages ALL DEPENDS ${ts_man_gz})
install(FILES ${ts_man_gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# More examples for the operator (the vhost PHP settings, the nginx front end).
install(FILES ${PROJECT_SOURCE_DIR}/conf/php-shared-hosting.conf
              ${PROJECT_SOURCE_DIR}/conf/nginx-frontend.conf
              ${PROJECT_SOURCE_DIR}/conf/policy.example.json
              ${ts_pkg_src}/README
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/tenant-sandbox/examples)
install(FILES ${ts_pkg_src}/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/tenant-sandbox)
# Debian policy 12.7: every package ships its changelog (native: changelog.gz).
set(ts_changelog_gz ${ts_pkg_bin}/changelog.gz)
add_custom_command(OUTPUT ${ts_changelog_gz}
  COMMAND ${TS_GZIP} -9 -n -c ${ts_pkg_src}/changelog > ${ts_changelog_gz}
  DEPENDS ${ts_pkg_src}/changelog VERBATIM)
add_custom_target(deb_changelog ALL DEPENDS ${ts_changelog_gz})
install(FILES ${ts_changelog_gz} DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/tenant-sandbox)

# ---- the Debian package -------------------------------------------------------
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "tenant-sandbox")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(TS_DEB_MAINTAINER "tenant-sandbox maintainers <maintainers@tenant-sandbox.example.org>" CACHE STRING
    "Maintainer field of the Debian package (Name <address>)")
set(CPACK_PACKAGE_CONTACT "${TS_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "per-request tenant sandbox for shared Apache + PHP hosting")
set(CPACK_PACKAGE_DESCRIPTION
"mod_tenant_tag tags every Apache request with its site (tenant), and
libsandbox, preloaded into every Apache process, checks each file, network
and exec call the worker makes while the tag is set against that tenant's
policy. Also ships the tenant-sandbox CLI (check, explain, run, learn,
status), a2enmod files and an example policy.")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
# Stage with DESTDIR: several destinations are absolute (/etc, /lib/systemd,
# the apxs module folder), and must land in the staging tree, never on the
# build machine itself.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)       # tenant-sandbox_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "httpd")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Library dependencies computed by dpkg-shlibdeps (dpkg-dev); apache2 for
# a2enmod and the layout, apache2-api-20120211 for the module ABI (what
# Debian's own module packages depend on).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "apache2 (>= 2.4), apache2-api-20120211")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${ts_pkg_src}/postinst ${ts_pkg_src}/prerm ${ts_pkg_src}/postrm ${ts_pkg_src}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PROJECT_CONFIG_FILE ${ts_pkg_src}/cpack-options.cmake)
set(CPACK_SOURCE_IGNORE_FILES "/build/;/\\\\.git/")
include(CPack)
