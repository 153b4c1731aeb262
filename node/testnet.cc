#include "node/testnet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "ledger/chain.h"
#include "node/config.h"
#include "node/keyfile.h"

namespace certledger::node {

using ledger::Status;
namespace fs = std::filesystem;

Status TestnetOptions::Validate() const {
  if (validators < 1 || validators > 40) return Status::InvalidArgument("--validators: 1 to 40");
  if (observers < 0 || observers > 10) return Status::InvalidArgument("--observers: 0 to 10");
  if (out_dir.empty()) return Status::InvalidArgument("--out: required");
  if (base_port < 0 || base_port > 65000) return Status::InvalidArgument("--base-port: 0 to 65000");
  return Status::Ok();
}

int FindFreePort(const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  int port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::vector<int> FindFreePorts(const std::string& host, int n) {
  // Hold every bound socket until all are chosen, so that no port is handed out twice.
  std::vector<int> fds, ports;
  std::random_device rd;
  std::mt19937 rng(rd());
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (int attempt = 0; attempt < 2000 && static_cast<int>(ports.size()) < n; ++attempt) {
    const int port = pick(rng);
    if (std::find(ports.begin(), ports.end(), port) != ports.end()) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      fds.push_back(fd);
      ports.push_back(port);
    } else {
      ::close(fd);
    }
  }
  for (int fd : fds) ::close(fd);
  if (static_cast<int>(ports.size()) < n) return {};
  return ports;
}

namespace {

struct AgencySpec {
  const char* slug;
  const char* name;
  ledger::AgencyKind kind;
  const char* division;
};

// The national network: the ministry, the seven river-basin agencies and the provinces.
// The first four make the default four-validator testnet: two provinces, one basin, the ministry.
const AgencySpec kAgencies[] = {
    {"jiangsu", "江苏省水利厅", ledger::AgencyKind::kProvince, "320000"},
    {"zhejiang", "浙江省水利厅", ledger::AgencyKind::kProvince, "330000"},
    {"taihu", "水利部太湖流域管理局", ledger::AgencyKind::kRiverBasin, "310000"},
    {"mwr", "中华人民共和国水利部", ledger::AgencyKind::kMinistry, "100000"},
    {"changjiang", "水利部长江水利委员会", ledger::AgencyKind::kRiverBasin, "420000"},
    {"yellow", "水利部黄河水利委员会", ledger::AgencyKind::kRiverBasin, "410000"},
    {"huai", "水利部淮河水利委员会", ledger::AgencyKind::kRiverBasin, "340000"},
    {"hai", "水利部海河水利委员会", ledger::AgencyKind::kRiverBasin, "120000"},
    {"pearl", "水利部珠江水利委员会", ledger::AgencyKind::kRiverBasin, "440000"},
    {"songliao", "水利部松辽水利委员会", ledger::AgencyKind::kRiverBasin, "220000"},
    {"beijing", "北京市水务局", ledger::AgencyKind::kProvince, "110000"},
    {"tianjin", "天津市水务局", ledger::AgencyKind::kProvince, "120000"},
    {"hebei", "河北省水利厅", ledger::AgencyKind::kProvince, "130000"},
    {"shanxi", "山西省水利厅", ledger::AgencyKind::kProvince, "140000"},
    {"neimenggu", "内蒙古自治区水利厅", ledger::AgencyKind::kProvince, "150000"},
    {"liaoning", "辽宁省水利厅", ledger::AgencyKind::kProvince, "210000"},
    {"jilin", "吉林省水利厅", ledger::AgencyKind::kProvince, "220000"},
    {"heilongjiang", "黑龙江省水利厅", ledger::AgencyKind::kProvince, "230000"},
    {"shanghai", "上海市水务局", ledger::AgencyKind::kProvince, "310000"},
    {"anhui", "安徽省水利厅", ledger::AgencyKind::kProvince, "340000"},
    {"fujian", "福建省水利厅", ledger::AgencyKind::kProvince, "350000"},
    {"jiangxi", "江西省水利厅", ledger::AgencyKind::kProvince, "360000"},
    {"shandong", "山东省水利厅", ledger::AgencyKind::kProvince, "370000"},
    {"henan", "河南省水利厅", ledger::AgencyKind::kProvince, "410000"},
    {"hubei", "湖北省水利厅", ledger::AgencyKind::kProvince, "420000"},
    {"hunan", "湖南省水利厅", ledger::AgencyKind::kProvince, "430000"},
    {"guangdong", "广东省水利厅", ledger::AgencyKind::kProvince, "440000"},
    {"guangxi", "广西壮族自治区水利厅", ledger::AgencyKind::kProvince, "450000"},
    {"hainan", "海南省水务厅", ledger::AgencyKind::kProvince, "460000"},
    {"chongqing", "重庆市水利局", ledger::AgencyKind::kProvince, "500000"},
    {"sichuan", "四川省水利厅", ledger::AgencyKind::kProvince, "510000"},
    {"guizhou", "贵州省水利厅", ledger::AgencyKind::kProvince, "520000"},
    {"yunnan", "云南省水利厅", ledger::AgencyKind::kProvince, "530000"},
    {"xizang", "西藏自治区水利厅", ledger::AgencyKind::kProvince, "540000"},
    {"shaanxi", "陕西省水利厅", ledger::AgencyKind::kProvince, "610000"},
    {"gansu", "甘肃省水利厅", ledger::AgencyKind::kProvince, "620000"},
    {"qinghai", "青海省水利厅", ledger::AgencyKind::kProvince, "630000"},
    {"ningxia", "宁夏回族自治区水利厅", ledger::AgencyKind::kProvince, "640000"},
    {"xinjiang", "新疆维吾尔自治区水利厅", ledger::AgencyKind::kProvince, "650000"},
    {"bingtuan", "新疆生产建设兵团水利局", ledger::AgencyKind::kProvince, "650000"},
};
static_assert(sizeof(kAgencies) / sizeof(kAgencies[0]) == 40);

// A synthetic unified social credit code with a correct check character:
// "11" (government organ) + division + "MB" + 7-digit index.
std::string SyntheticCreditCode(const char* division, int index) {
  static constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  static constexpr int kWeights[17] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                       29, 25, 13, 8,  24, 10, 30, 28};
  char digits[8];
  std::snprintf(digits, sizeof(digits), "%07d", index);
  std::string code = std::string("11") + division + "MB" + digits;
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) sum += static_cast<int>(kAlphabet.find(code[i])) * kWeights[i];
  return code + kAlphabet[static_cast<size_t>((31 - sum % 31) % 31)];
}

Status WriteText(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
  out.close();
  if (!out) return Status::IOError("cannot write " + p.string());
  return Status::Ok();
}

}  // namespace

Status GenerateTestnet(const TestnetOptions& o) {
  if (Status st = o.Validate(); !st.ok()) return st;
  std::error_code ec;
  fs::path out(o.out_dir);
  if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
    return Status::InvalidArgument("--out: " + o.out_dir + " exists and is not empty");
  }
  fs::create_directories(out / "agencies", ec);
  if (ec) return Status::IOError("cannot create " + o.out_dir + ": " + ec.message());

  ledger::Genesis g;
  g.params.chain_id = o.chain_id;
  g.genesis_time_ms = o.genesis_time_ms != 0
                          ? o.genesis_time_ms
                          : std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  nlohmann::json agencies_json = nlohmann::json::array();
  std::vector<ledger::PrivateKey> validator_keys;  // consensus keys
  std::vector<ledger::PrivateKey> identity_keys;   // the validators' node identities
  std::string ministry_id;
  for (int i = 0; i < o.validators; ++i) {
    const AgencySpec& spec = kAgencies[i];
    ledger::Agency a;
    a.id = SyntheticCreditCode(spec.division, i + 1);
    a.name = spec.name;
    a.kind = spec.kind;
    a.division = spec.division;
    if (spec.kind == ledger::AgencyKind::kMinistry) ministry_id = a.id;
    ledger::PrivateKey issuing = ledger::PrivateKey::Generate();
    a.issuing_keys.push_back(issuing.public_key());
    fs::path dir = out / "agencies" / spec.slug;
    fs::create_directories(dir, ec);
    const std::string key_path = (dir / "issuing_key.json").string();
    if (Status st = WriteKeyFile(key_path, issuing); !st.ok()) return st;
    agencies_json.push_back({{"slug", spec.slug},
                             {"id", a.id},
                             {"name", a.name},
                             {"division", a.division},
                             {"issuing_key_file", key_path},
                             {"node", "node" + std::to_string(i)}});
    validator_keys.push_back(ledger::PrivateKey::Generate());
    identity_keys.push_back(ledger::PrivateKey::Generate());
    g.validators.validators.push_back(
        {validator_keys.back().public_key(), 10, a.id, identity_keys.back().public_key()});
    g.agencies.push_back(std::move(a));
  }
  std::sort(g.validators.validators.begin(), g.validators.validators.end(),
            [](const ledger::Validator& a, const ledger::Validator& b) { return a.key < b.key; });
  // The water-abstraction permit's type code: the defining authority's credit code + "001".
  // Without the ministry in a small testnet, the first agency defines it.
  g.params.water_permit_type_code = (ministry_id.empty() ? g.agencies[0].id : ministry_id) + "001";
  if (Status st = ledger::ValidateGenesis(g); !st.ok()) return st;
  const std::string genesis_json = ledger::GenesisToJson(g);
  if (Status st = WriteText(out / "genesis.json", genesis_json); !st.ok()) return st;

  const int nodes = o.validators + o.observers;
  std::vector<NodeConfig> configs(static_cast<size_t>(nodes));
  std::vector<ledger::PrivateKey> node_keys;
  std::vector<int> free_ports;
  if (!o.base_port) {
    free_ports = FindFreePorts(o.host, 3 * nodes);
    if (free_ports.empty()) return Status::IOError("no free ports on " + o.host);
  }
  for (int i = 0; i < nodes; ++i) {
    NodeConfig& c = configs[static_cast<size_t>(i)];
    c.moniker = "node" + std::to_string(i);
    const int p2p = o.base_port ? o.base_port + i : free_ports[static_cast<size_t>(3 * i)];
    const int api =
        o.base_port ? o.base_port + 100 + i : free_ports[static_cast<size_t>(3 * i + 1)];
    const int admin =
        o.base_port ? o.base_port + 200 + i : free_ports[static_cast<size_t>(3 * i + 2)];
    c.p2p_listen = {o.host, static_cast<uint16_t>(p2p)};
    c.api_listen = {o.host, static_cast<uint16_t>(api)};
    // The admin listener stays on loopback whatever --host is (it changes log levels).
    c.admin_listen = HostPort{o.host == "::" || o.host == "::1" ? "::1" : "127.0.0.1",
                              static_cast<uint16_t>(admin)};
    c.api_rate_limit_per_second = 0;  // a local network: the load generator must not be throttled
    // Every node has a node identity (the peer network); validators also a consensus key.
    c.node_key_file = "node_key.json";
    if (i < o.validators) {
      node_keys.push_back(identity_keys[static_cast<size_t>(i)]);
    } else {
      node_keys.push_back(ledger::PrivateKey::Generate());
      c.validator_key_file.clear();
    }
  }
  nlohmann::json network = {{"chain_id", o.chain_id},
                            {"genesis", (out / "genesis.json").string()},
                            {"agencies", agencies_json},
                            {"nodes", nlohmann::json::array()}};
  for (int i = 0; i < nodes; ++i) {
    NodeConfig& c = configs[static_cast<size_t>(i)];
    // Validators dial every other validator; observers dial validators and validators accept
    // the observers' keys without dialling them.
    for (int j = 0; j < nodes; ++j) {
      if (j == i) continue;
      const bool j_validator = j < o.validators;
      const bool i_validator = i < o.validators;
      if (!j_validator && !i_validator) continue;
      PeerEntry p;
      p.name = configs[static_cast<size_t>(j)].moniker;
      p.key = node_keys[static_cast<size_t>(j)].public_key();
      if (j_validator) p.address = configs[static_cast<size_t>(j)].p2p_listen;
      c.peers.push_back(p);
    }
    fs::path home = out / c.moniker;
    fs::create_directories(home / "data", ec);
    if (ec) return Status::IOError("cannot create " + home.string());
    if (Status st = WriteText(home / "config.toml", ConfigToToml(c)); !st.ok()) return st;
    if (Status st = WriteText(home / "genesis.json", genesis_json); !st.ok()) return st;
    if (Status st =
            WriteKeyFile((home / "node_key.json").string(), node_keys[static_cast<size_t>(i)]);
        !st.ok()) {
      return st;
    }
    if (i < o.validators) {
      if (Status st = WriteKeyFile((home / "validator_key.json").string(),
                                   validator_keys[static_cast<size_t>(i)]);
          !st.ok()) {
        return st;
      }
    }
    network["nodes"].push_back(
        {{"name", c.moniker},
         {"home", fs::absolute(home).string()},
         {"validator", i < o.validators},
         {"public_key", node_keys[static_cast<size_t>(i)].public_key().Hex()},
         {"validator_key", i < o.validators
                               ? validator_keys[static_cast<size_t>(i)].public_key().Hex()
                               : std::string()},
         {"p2p", c.p2p_listen.ToString()},
         {"api", "http://" + c.api_listen.ToString()},
         {"admin", "http://" + c.admin_listen->ToString()}});
  }
  return WriteText(out / "network.json", network.dump(2) + "\n");
}

}  // namespace certledger::node
