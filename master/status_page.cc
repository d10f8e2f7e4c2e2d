#include "master/status_page.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/human_units.h"

namespace ternion::master {
namespace {

using ternion::v1::ChunkServerStatus;

constexpr char kStyle[] = R"(
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
.verdict { padding: .6em 1em; border-radius: 4px; font-weight: bold; font-size: 1.2em; }
.HEALTH_OK { background: #d8f0d8; } .HEALTH_WARN { background: #fbeec2; }
.HEALTH_ERR { background: #f6d0d0; }
table { border-collapse: collapse; margin: .4em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; white-space: nowrap; }
@page { size: A4 landscape; margin: 1cm; }
td.n { text-align: right; }
.bar { width: 8em; height: .8em; background: #eee; display: inline-block; }
.fill { height: 100%; background: #4a7bd0; }
.live { color: #1a7f1a; } .suspect, .stopping { color: #a86b00; } .dead { color: #b00; }
)";

std::string Row(std::initializer_list<std::string> cells) {
  std::string out = "<tr>";
  for (const std::string& c : cells) absl::StrAppend(&out, c);
  return out + "</tr>\n";
}
std::string Td(const std::string& text) { return absl::StrCat("<td>", HtmlEscape(text), "</td>"); }
std::string TdNumber(uint64_t n) { return absl::StrCat("<td class=\"n\">", n, "</td>"); }
std::string TdBytes(uint64_t n) {
  return absl::StrCat("<td class=\"n\">", HumanBytes(static_cast<double>(n)), "</td>");
}

std::string UsageBar(uint64_t used, uint64_t capacity) {
  const double share = capacity == 0 ? 0 : static_cast<double>(used) / capacity;
  return absl::StrFormat(
      "<td><span class=\"bar\"><span class=\"fill\" style=\"width:%.0f%%;display:block\">"
      "</span></span> %.0f%% of %s</td>",
      share * 100, share * 100, HumanBytes(static_cast<double>(capacity)));
}

std::string ServerState(const ChunkServerStatus& s) {
  std::string state =
      absl::StrCat("<td class=\"", HtmlEscape(s.state()), "\">", HtmlEscape(s.state()));
  if (s.admin_state() != "active") absl::StrAppend(&state, ", ", HtmlEscape(s.admin_state()));
  if (s.maintenance_ends_in_ms() > 0) {
    // To the minute ("1h59m"); the last minute in seconds.
    const absl::Duration left = absl::Milliseconds(s.maintenance_ends_in_ms());
    absl::StrAppend(&state, ", maintenance for ",
                    absl::FormatDuration(absl::Trunc(
                        left, left >= absl::Minutes(1) ? absl::Minutes(1) : absl::Seconds(1))));
  }
  return state + "</td>";
}

std::string Servers(const ternion::v1::ClusterStatusResponse& status) {
  std::map<std::string, std::vector<const ChunkServerStatus*>> by_rack;
  for (const ChunkServerStatus& s : status.servers()) by_rack[s.rack()].push_back(&s);
  std::string out = absl::StrCat("<h2>Chunkservers: ", status.live_servers(), " live of ",
                                 status.servers_size(), "</h2>\n");
  for (const auto& [rack, servers] : by_rack) {
    absl::StrAppend(&out, "<h3>Rack ", HtmlEscape(rack.empty() ? "(none)" : rack), "</h3>\n",
                    "<table><tr><th>Server</th><th>Address</th><th>State</th><th>Usage</th>"
                    "<th>Replicas</th><th>Last heartbeat</th></tr>\n");
    for (const ChunkServerStatus* s : servers) {
      absl::StrAppend(&out,
                      Row({Td(s->server_id()), Td(s->address()), ServerState(*s),
                           UsageBar(s->used_bytes(), s->capacity_bytes()), TdNumber(s->replicas()),
                           Td(absl::StrCat(s->last_heartbeat_ms_ago() / 1000, " s ago"))}));
    }
    out += "</table>\n";
  }
  return out;
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderStatusPage(const ternion::v1::ClusterStatusResponse& status,
                             const ternion::v1::GcStatusResponse& gc) {
  const ternion::v1::HealthReport& health = status.health();
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"10\"><title>Ternion: ",
      HtmlEscape(health.status()), "</title><style>", kStyle, "</style></head><body>\n",
      "<h1>Ternion cluster status</h1>\n<div class=\"verdict ", HtmlEscape(health.status()), "\">",
      HtmlEscape(health.status()), "</div>\n");
  if (health.checks_size() > 0) {
    out += "<ul>\n";
    for (const ternion::v1::HealthCheck& c : health.checks()) {
      absl::StrAppend(&out, "<li>[", HtmlEscape(c.severity()), "] ", HtmlEscape(c.code()), ": ",
                      HtmlEscape(c.summary()), "</li>\n");
    }
    out += "</ul>\n";
  }
  out += Servers(status);
  absl::StrAppend(&out, "<h2>Chunks</h2>\n<table>\n",
                  Row({Td("Chunks"), TdNumber(status.chunks_total())}),
                  Row({Td("Replicas"), TdNumber(status.replicas_total())}),
                  Row({Td("Under-replicated"), TdNumber(status.chunks_under_replicated())}),
                  Row({Td("Rack-unsafe"), TdNumber(status.chunks_rack_unsafe())}),
                  Row({Td("Lost"), TdNumber(status.chunks_lost())}),
                  Row({Td("Corrupt (no intact replica)"), TdNumber(status.chunks_corrupt())}),
                  Row({Td("Files"), TdNumber(status.files())}),
                  Row({Td("Projects"), TdNumber(status.projects())}), "</table>\n");
  absl::StrAppend(&out, "<h2>Replication</h2>\n<table>\n",
                  Row({Td("Replication"), Td(status.replication_paused() ? "paused" : "running")}),
                  Row({Td("Moves queued"), TdNumber(status.moves_queued())}),
                  Row({Td("Moves in progress"), TdNumber(status.moves_in_progress())}),
                  Row({Td("Replicas repaired since start"), TdNumber(status.replicas_repaired())}),
                  Row({Td("Bytes repaired since start"), TdBytes(status.bytes_repaired())}),
                  "</table>\n");
  absl::StrAppend(
      &out, "<h2>Garbage collection</h2>\n<table>\n",
      Row({Td("Deleted chunks awaiting wipe"), TdNumber(gc.chunks_pending())}),
      Row({Td("Bytes awaiting wipe"), TdBytes(gc.bytes_pending_wipe())}),
      Row({Td("Bytes wiped since start"), TdBytes(gc.bytes_wiped_total())}),
      Row({Td("Orphan replicas quarantined"), TdNumber(gc.orphans_quarantined())}),
      Row({Td("Servers held by the deletion valve"), TdNumber(gc.deletion_valve_held_servers())}),
      "</table>\n</body></html>\n");
  return out;
}

}  // namespace ternion::master
