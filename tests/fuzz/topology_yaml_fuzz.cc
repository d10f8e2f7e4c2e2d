// Fuzzes the topology YAML import (client/cli/topology_yaml.h): `ternion topology import`
// reads a file an administrator hands it. Any text must parse or be refused with an error,
// never crash, hang or exhaust memory.

#include <cstdint>
#include <string>

#include "client/cli/topology_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ternion::cli::ParseTopologyYaml(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
