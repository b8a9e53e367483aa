# Run by `cmake --install` (cmake/Install.cmake sets DS_UNITS_IN, DS_BINDIR,
# DS_UNITDIR and DS_WORKDIR before): configures contrib/systemd/*.in with the
# binary's installed path under the prefix of this install, which may differ
# from the configured one (--prefix), and installs the units. DESTDIR is
# applied by file(INSTALL), as for every other file.
function(ds_full out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
ds_full(CMAKE_INSTALL_FULL_BINDIR "${DS_BINDIR}")
ds_full(unitdir "${DS_UNITDIR}")
foreach(in ${DS_UNITS_IN})
  get_filename_component(name "${in}" NAME)
  string(REGEX REPLACE "\\.in$" "" name "${name}")
  configure_file("${in}" "${DS_WORKDIR}/${name}" @ONLY)
  file(INSTALL DESTINATION "${unitdir}" TYPE FILE FILES "${DS_WORKDIR}/${name}")
endforeach()
