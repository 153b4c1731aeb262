// What this binary is: version, source commit, build type, compiler and the versions of the
// libraries it was built with (`certledger version`, `--version`, the build_info metric).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace certledger::node {

struct BuildInfo {
  std::string version;     // the project version, e.g. "0.1.0"
  std::string commit;      // git commit (12 hex digits, "-dirty" if modified), or "unknown"
  std::string build_type;  // CMake build type, e.g. "RelWithDebInfo"
  std::string compiler;    // e.g. "GNU 12.2.0"
  std::vector<std::pair<std::string, std::string>> libraries;  // name, version
};

const BuildInfo& GetBuildInfo();
// Several lines for people: "certledger 0.1.0\ncommit ...\n...".
std::string BuildInfoText();
// One JSON object: {"version":..,"commit":..,"build_type":..,"compiler":..,"libraries":{..}}.
std::string BuildInfoJson();

}  // namespace certledger::node
