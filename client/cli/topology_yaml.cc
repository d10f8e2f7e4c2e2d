#include "client/cli/topology_yaml.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"

namespace ternion::cli {

namespace {

// Checks that `node` is a map holding only `allowed` keys and a scalar `name`.
absl::StatusOr<std::string> NameOf(const YAML::Node& node, const std::string& what,
                                   const std::set<std::string>& allowed) {
  if (!node.IsMap()) return absl::InvalidArgumentError(absl::StrCat(what, " must be a map"));
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown key '", key, "' in a ", what));
    }
  }
  if (!node["name"] || !node["name"].IsScalar() || node["name"].as<std::string>().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("a ", what, " needs a name"));
  }
  return node["name"].as<std::string>();
}

absl::Status ListOf(const YAML::Node& node, const std::string& what) {
  if (node && !node.IsSequence() && !node.IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat("'", what, "' must be a list"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ternion::v1::ImportTopologyRequest> Parse(const std::string& text) {
  YAML::Node root = YAML::Load(text);
  if (!root.IsMap() || !root["datacenters"]) {
    return absl::InvalidArgumentError("topology YAML needs a top-level 'datacenters' list");
  }
  if (root.size() != 1) return absl::InvalidArgumentError("only 'datacenters' may be at the top");
  if (auto s = ListOf(root["datacenters"], "datacenters"); !s.ok()) return s;
  ternion::v1::ImportTopologyRequest req;
  std::set<std::string> racks, servers;
  for (const YAML::Node& dc : root["datacenters"]) {
    absl::StatusOr<std::string> dc_name = NameOf(dc, "data centre", {"name", "power_domains"});
    if (!dc_name.ok()) return dc_name.status();
    if (auto s = ListOf(dc["power_domains"], "power_domains"); !s.ok()) return s;
    for (const YAML::Node& pd : dc["power_domains"]) {
      absl::StatusOr<std::string> pd_name = NameOf(pd, "power domain", {"name", "racks"});
      if (!pd_name.ok()) return pd_name.status();
      if (auto s = ListOf(pd["racks"], "racks"); !s.ok()) return s;
      for (const YAML::Node& rack : pd["racks"]) {
        absl::StatusOr<std::string> rack_name = NameOf(rack, "rack", {"name", "servers"});
        if (!rack_name.ok()) return rack_name.status();
        if (!racks.insert(*rack_name).second) {
          return absl::InvalidArgumentError(absl::StrCat("rack ", *rack_name, " is listed twice"));
        }
        auto* r = req.add_racks();
        r->set_rack(*rack_name);
        r->set_power_domain(*pd_name);
        r->set_datacenter(*dc_name);
        if (auto s = ListOf(rack["servers"], "servers"); !s.ok()) return s;
        for (const YAML::Node& server : rack["servers"]) {
          if (!server.IsScalar()) {
            return absl::InvalidArgumentError("a server must be given by its id");
          }
          const std::string id = server.as<std::string>();
          if (!servers.insert(id).second) {
            return absl::InvalidArgumentError(absl::StrCat("chunkserver ", id, " is listed twice"));
          }
          auto* m = req.add_servers();
          m->set_server_id(id);
          m->set_rack(*rack_name);
        }
      }
    }
  }
  return req;
}

}  // namespace

absl::StatusOr<ternion::v1::ImportTopologyRequest> ParseTopologyYaml(const std::string& text) {
  try {
    return Parse(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("bad topology YAML: ", e.what()));
  }
}

std::string TopologyToYaml(const ternion::v1::GetTopologyResponse& topology) {
  std::map<std::string, std::map<std::string, std::vector<const ternion::v1::RackInfo*>>> tree;
  for (const auto& rack : topology.racks()) {
    if (rack.power_domain().empty()) continue;  // claimed by a server, never administered
    tree[rack.datacenter()][rack.power_domain()].push_back(&rack);
  }
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "datacenters" << YAML::Value << YAML::BeginSeq;
  for (const auto& [dc, pds] : tree) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << dc;
    out << YAML::Key << "power_domains" << YAML::Value << YAML::BeginSeq;
    for (const auto& [pd, racks] : pds) {
      out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << pd;
      out << YAML::Key << "racks" << YAML::Value << YAML::BeginSeq;
      for (const auto* rack : racks) {
        out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << rack->name();
        out << YAML::Key << "servers" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& s : rack->servers()) out << s.server_id();
        out << YAML::EndSeq << YAML::EndMap;
      }
      out << YAML::EndSeq << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace ternion::cli
