#include "node/version.h"

#include <fmt/core.h>
#include <leveldb/db.h>
#include <openssl/crypto.h>
#include <spdlog/version.h>
#include <toml++/impl/version.h>
#include <CLI/Version.hpp>
#include <boost/version.hpp>
#include <cereal/version.hpp>
#include <nlohmann/json.hpp>

#include "build_info.h"
#include "git_commit.h"

namespace certledger::node {

namespace {
std::string Dotted(int major, int minor, int patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}
}  // namespace

const BuildInfo& GetBuildInfo() {
  static const BuildInfo info = [] {
    BuildInfo b;
    b.version = CERTLEDGER_VERSION;
    b.commit = CERTLEDGER_GIT_COMMIT;
    b.build_type = CERTLEDGER_BUILD_TYPE;
    b.compiler = CERTLEDGER_COMPILER;
    b.libraries = {
        {"leveldb",
         std::to_string(leveldb::kMajorVersion) + "." + std::to_string(leveldb::kMinorVersion)},
        {"libsecp256k1", CERTLEDGER_SECP256K1_VERSION},
        {"openssl", OpenSSL_version(OPENSSL_VERSION_STRING)},
        {"boost", Dotted(BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100)},
        {"cereal", Dotted(CEREAL_VERSION_MAJOR, CEREAL_VERSION_MINOR, CEREAL_VERSION_PATCH)},
        {"nlohmann_json", Dotted(NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
                                 NLOHMANN_JSON_VERSION_PATCH)},
        {"spdlog", Dotted(SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH)},
        {"fmt", Dotted(FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100)},
        {"cli11", CLI11_VERSION},
        {"tomlplusplus", Dotted(TOML_LIB_MAJOR, TOML_LIB_MINOR, TOML_LIB_PATCH)},
        {"prometheus-cpp", CERTLEDGER_PROMETHEUS_CPP_VERSION},
    };
    return b;
  }();
  return info;
}

std::string BuildInfoText() {
  const BuildInfo& b = GetBuildInfo();
  std::string out = "certledger " + b.version + "\ncommit " + b.commit + "\nbuild " + b.build_type +
                    ", " + b.compiler + "\nlibraries";
  for (size_t i = 0; i < b.libraries.size(); ++i) {
    out += (i == 0 ? " " : ", ") + b.libraries[i].first + " " + b.libraries[i].second;
  }
  return out + "\n";
}

std::string BuildInfoJson() {
  const BuildInfo& b = GetBuildInfo();
  nlohmann::ordered_json libs = nlohmann::ordered_json::object();
  for (const auto& [name, version] : b.libraries) libs[name] = version;
  nlohmann::ordered_json j = {{"version", b.version},
                              {"commit", b.commit},
                              {"build_type", b.build_type},
                              {"compiler", b.compiler},
                              {"libraries", libs}};
  return j.dump();
}

}  // namespace certledger::node
