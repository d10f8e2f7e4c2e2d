# What `cmake --install` puts where, and the Debian packages CPack builds from it.
#
#   component    package              contents
#   master       ternion-master       ternion-master, its systemd unit, example master.toml
#   chunkserver  ternion-chunkserver  ternion-chunkserver, its unit, example chunkserver configs
#   client       ternion-client       the `ternion` CLI and libternion.so (the client library)
#   dev          libternion-dev       headers, libternion.so link, pkg-config and CMake files
#
# The daemons' packages create the `ternion` system user and its directories (postinst).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The client library as one shared object for compute jobs built outside this tree: it carries
# Ternion's internal static libraries inside, with their symbols hidden, and shows only
# ternion/client.h and ternion/table.h (which need Abseil's headers and libraries).
add_library(ternion_client_shared SHARED $<TARGET_OBJECTS:ternion_client>)
target_link_libraries(ternion_client_shared PRIVATE ternion_common ternion_proto ternion_security)
target_link_options(ternion_client_shared PRIVATE
  "LINKER:--exclude-libs,libternion_common.a:libternion_proto.a:libternion_security.a")
target_include_directories(ternion_client_shared INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/client/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(ternion_client_shared INTERFACE absl::status absl::statusor absl::strings
  absl::time)
set_target_properties(ternion_client_shared PROPERTIES OUTPUT_NAME ternion EXPORT_NAME client
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
foreach(lib ternion_client ternion_common ternion_proto ternion_security)
  set_target_properties(${lib} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endforeach()

install(TARGETS ternion-master RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT master)
install(TARGETS ternion-chunkserver RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  COMPONENT chunkserver)
install(TARGETS ternion RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT client)
install(TARGETS ternion_client_shared EXPORT TernionTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT client NAMELINK_COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY client/include/ternion DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

# CMake: find_package(Ternion) gives Ternion::client.
set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/Ternion)
install(EXPORT TernionTargets NAMESPACE Ternion:: DESTINATION ${cmake_dir} COMPONENT dev)
configure_package_config_file(cmake/TernionConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/TernionConfig.cmake INSTALL_DESTINATION ${cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/TernionConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/TernionConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/TernionConfigVersion.cmake DESTINATION ${cmake_dir} COMPONENT dev)
# pkg-config: `pkg-config --cflags --libs ternion`.
configure_file(cmake/ternion.pc.in ${CMAKE_CURRENT_BINARY_DIR}/ternion.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/ternion.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# systemd units (naming the installed binaries) and example configs.
# The units are written at install time: the prefix (cmake --install --prefix, /usr in the
# packages) is only known then.
foreach(daemon master chunkserver)
  install(CODE "set(BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    configure_file(${PROJECT_SOURCE_DIR}/deploy/systemd/ternion-${daemon}.service.in
      ${CMAKE_CURRENT_BINARY_DIR}/units/ternion-${daemon}.service @ONLY)" COMPONENT ${daemon})
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/units/ternion-${daemon}.service
    DESTINATION lib/systemd/system COMPONENT ${daemon})
endforeach()
set(examples ${CMAKE_INSTALL_DATADIR}/ternion/examples)
install(FILES deploy/config/master.toml DESTINATION ${examples} COMPONENT master)
install(FILES deploy/config/chunkserver-rack1.toml deploy/config/chunkserver-rack2.toml
  deploy/config/chunkserver-rack3.toml DESTINATION ${examples} COMPONENT chunkserver)
install(FILES deploy/prometheus/prometheus.yml deploy/prometheus/alerts.yml
  deploy/grafana/ternion.json deploy/examples/three-rack-cluster.md
  DESTINATION ${examples} COMPONENT master)

# Debian packages: `cpack -G DEB` in the build directory.
set(CPACK_PACKAGE_NAME ternion)
set(CPACK_PACKAGE_VENDOR "Ternion developers")
set(CPACK_PACKAGE_CONTACT "Ternion developers <ternion@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Ternion: a replicated chunk store, three replicas in three racks")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL master chunkserver client dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_MASTER_PACKAGE_NAME ternion-master)
set(CPACK_DEBIAN_CHUNKSERVER_PACKAGE_NAME ternion-chunkserver)
set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME ternion-client)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libternion-dev)
set(CPACK_DEBIAN_CLIENT_PACKAGE_GENERATE_SHLIBS ON)  # shlibs and the ldconfig trigger
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "ternion-client (= ${PROJECT_VERSION}), libabsl-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_MASTER_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/deploy/debian/postinst)
set(CPACK_DEBIAN_CHUNKSERVER_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/deploy/debian/postinst)
include(CPack)
