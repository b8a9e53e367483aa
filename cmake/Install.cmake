# What `cmake --install build --prefix P` puts where (GNUInstallDirs, so a
# distribution's own layout applies): the binary, one man page per
# subcommand, shell completion, the systemd units configured with the
# installed binary's path, the sysusers.d and tmpfiles.d entries for the
# 'dmarcsift' system user and its state directory, the example configuration
# and the docs. tests/test_install.sh installs into a temporary prefix and
# checks the tree; debian/rules installs with prefix /usr.
include(GNUInstallDirs)

# Relative paths are under the prefix. Debian's debhelper looks for units in
# /lib/systemd/system, so debian/rules sets that one absolute.
set(DMARCSIFT_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "where the systemd units go (relative: under the prefix)")
set(DMARCSIFT_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING
    "where the systemd-sysusers file goes (relative: under the prefix)")
set(DMARCSIFT_TMPFILES_DIR "lib/tmpfiles.d" CACHE STRING
    "where the systemd-tmpfiles file goes (relative: under the prefix)")
set(DMARCSIFT_BASH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" CACHE STRING
    "where the bash completion goes (relative: under the prefix)")
set(DMARCSIFT_ZSH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/zsh/site-functions" CACHE STRING
    "where the zsh completion goes (relative: under the prefix; Debian: share/zsh/vendor-completions)")

install(TARGETS dmarcsift RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

file(GLOB DMARCSIFT_MAN_PAGES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/man/*.1)
install(FILES ${DMARCSIFT_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES ${CMAKE_SOURCE_DIR}/completions/dmarcsift.bash
        DESTINATION ${DMARCSIFT_BASH_COMPLETION_DIR} RENAME dmarcsift)
install(FILES ${CMAKE_SOURCE_DIR}/completions/_dmarcsift
        DESTINATION ${DMARCSIFT_ZSH_COMPLETION_DIR})

# The services name the binary where it is installed. The prefix is known
# only at install time (`cmake --install build --prefix P` overrides the one
# configured), so they are configured then, by cmake/InstallUnits.cmake.
file(GLOB DMARCSIFT_UNITS_IN CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/contrib/systemd/*.in)
install(CODE "
  set(DS_UNITS_IN \"${DMARCSIFT_UNITS_IN}\")
  set(DS_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(DS_UNITDIR \"${DMARCSIFT_SYSTEMD_UNIT_DIR}\")
  set(DS_WORKDIR \"${CMAKE_BINARY_DIR}/contrib/systemd\")")
install(SCRIPT ${CMAKE_SOURCE_DIR}/cmake/InstallUnits.cmake)
file(GLOB DMARCSIFT_TIMERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/contrib/systemd/*.timer)
install(FILES ${DMARCSIFT_TIMERS} DESTINATION ${DMARCSIFT_SYSTEMD_UNIT_DIR})

install(FILES ${CMAKE_SOURCE_DIR}/contrib/sysusers.d/dmarcsift.conf DESTINATION ${DMARCSIFT_SYSUSERS_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/contrib/tmpfiles.d/dmarcsift.conf DESTINATION ${DMARCSIFT_TMPFILES_DIR})

# The example configuration goes with the docs; /etc/dmarcsift/dmarcsift.conf
# is the administrator's (the .deb ships this file there as a conffile).
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/contrib/dmarcsift.conf.example
              ${CMAKE_SOURCE_DIR}/contrib/cron.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")
install(FILES ${CMAKE_SOURCE_DIR}/contrib/grafana/dmarcsift.json DESTINATION ${CMAKE_INSTALL_DOCDIR}/grafana)
