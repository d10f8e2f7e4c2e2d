#pragma once

// The master's read-only status page (served on its metrics port at / and /status): the health
// verdict, servers by rack with usage and state, chunk health, replication progress and the
// wipe backlog. Plain HTML and CSS, refreshed by the browser every 10 seconds. The master
// renders it from its latest chunk-map walk (--status-interval), like /metrics: a page load
// never walks the chunk map.

#include <string>

#include "ternion/v1/master.pb.h"

namespace ternion::master {

std::string RenderStatusPage(const ternion::v1::ClusterStatusResponse& status,
                             const ternion::v1::GcStatusResponse& gc);

// `text` with &, <, >, " and ' replaced by entities: safe inside elements and quoted attributes.
std::string HtmlEscape(const std::string& text);

}  // namespace ternion::master
