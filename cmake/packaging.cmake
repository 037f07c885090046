# What `cmake --install` puts where, and the .deb CPack builds from it (docs/operations.md,
# "Installing the package"). The binary's own rule is in app/CMakeLists.txt; tests install nothing.
#
# Configure with -DCMAKE_INSTALL_PREFIX=/usr for a system package: GNUInstallDirs then puts the
# configuration in /etc (not /usr/etc), and the units' paths below follow the prefix.
include(GNUInstallDirs)

set(PFO3_CONFIG_DIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/pfo3")
# The units' StateDirectory=pfo3; with DynamicUser=yes systemd keeps it in lib/private and links it.
set(PFO3_STATE_DIR "${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/pfo3")
set(PFO3_PRIVATE_STATE_DIR "${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/private/pfo3")

# systemd's own directories for a /usr install (Debian 12: units in /lib/systemd/system,
# sysusers.d in /usr/lib/sysusers.d, as its systemd.pc says); under any other prefix, below it.
# Left empty, they follow the prefix at every configure (a cached value would not).
set(PFO3_SYSTEMD_UNIT_DIR "" CACHE PATH "where the systemd units go (empty: from the prefix)")
set(PFO3_SYSUSERS_DIR "" CACHE PATH "where the sysusers.d entry goes (empty: from the prefix)")
set(_unit_dir "${PFO3_SYSTEMD_UNIT_DIR}")
set(_sysusers_dir "${PFO3_SYSUSERS_DIR}")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  if(NOT _unit_dir)
    pkg_get_variable(_unit_dir systemd systemdsystemunitdir)
  endif()
  if(NOT _sysusers_dir)
    pkg_get_variable(_sysusers_dir systemd sysusersdir)
  endif()
endif()
if(NOT _unit_dir)
  set(_unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
if(NOT _sysusers_dir)
  set(_sysusers_dir "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d")
endif()

set(PFO3_SYSUSERS_ENTRY "${_sysusers_dir}/pfo3.conf")  # for postinst

# The units in config/systemd name /usr/bin/pfo3 and /etc/pfo3; installed under another prefix
# they must name the installed binary and configuration instead.
file(GLOB _units CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/config/systemd/*.service
                                   ${PROJECT_SOURCE_DIR}/config/systemd/*.target)
set(_installed_units)
foreach(_unit ${_units})
  get_filename_component(_name ${_unit} NAME)
  file(READ ${_unit} _text)
  string(REPLACE "/usr/bin/pfo3" "${CMAKE_INSTALL_FULL_BINDIR}/pfo3" _text "${_text}")
  string(REPLACE "/etc/pfo3" "${PFO3_CONFIG_DIR}" _text "${_text}")
  # Written only when it changed (no @VAR@ or $<> expansion: the text is a unit, not a template).
  set(_out ${PROJECT_BINARY_DIR}/systemd/${_name})
  set(_old "")
  if(EXISTS ${_out})
    file(READ ${_out} _old)
  endif()
  if(NOT _old STREQUAL _text)
    file(WRITE ${_out} "${_text}")
  endif()
  list(APPEND _installed_units ${_out})
endforeach()

install(FILES ${PROJECT_SOURCE_DIR}/config/pfo3.toml DESTINATION ${PFO3_CONFIG_DIR})
install(FILES ${_installed_units} DESTINATION ${_unit_dir})
install(FILES ${PROJECT_SOURCE_DIR}/config/sysusers.d/pfo3.conf DESTINATION ${_sysusers_dir})
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/pfo3.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/config/completion/pfo3.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME pfo3)

# The .deb: `cpack -G DEB` (or the `package` target) in the build directory.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pfo3)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "distributed task system over RabbitMQ (serve, work, send)")
set(CPACK_PACKAGE_DESCRIPTION
    "pfo3 accepts tasks over TCP (pfo3 serve), publishes them to RabbitMQ with publisher\n\
confirms, runs them on workers (pfo3 work) and stores every result (file, PostgreSQL or S3)\n\
before acknowledging it. Ships systemd units for serve and for any number of workers.")
set(PFO3_PACKAGE_MAINTAINER "pfo3 maintainers <pfo3@example.org>" CACHE STRING
    "Maintainer field of the .deb")
set(CPACK_PACKAGE_CONTACT "${PFO3_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # pfo3_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_STRIP_FILES ON)
# Depends: from the libraries the binary links (dpkg-shlibdeps), plus what the maintainer
# scripts call to create the user: systemd-sysusers, or adduser where there is no systemd.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser | systemd")
# sqlite3: to look inside the shipped config's result store (sqlite3 /var/lib/pfo3/results.db).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "rabbitmq-server, sqlite3")

# Maintainer scripts and conffiles. CPack does not mark /etc files as conffiles by itself:
# without the list, an upgrade would overwrite the administrator's pfo3.toml.
set(_debian ${PROJECT_BINARY_DIR}/debian)
file(CONFIGURE OUTPUT ${_debian}/conffiles CONTENT "${PFO3_CONFIG_DIR}/pfo3.toml\n")
foreach(_script postinst prerm postrm)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/debian/${_script}.in ${_debian}/${_script} @ONLY
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                  WORLD_READ WORLD_EXECUTE)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_debian}/conffiles ${_debian}/postinst ${_debian}/prerm ${_debian}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
