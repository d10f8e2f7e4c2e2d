#pragma once

// Serves GET /metrics (Prometheus text format) from a MetricsRegistry over HTTP, using civetweb.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"

struct mg_context;

namespace ternion {

class MetricsHttpServer {
 public:
  // Listens on host:port (port 0 picks a free port). `registry` must outlive the server.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& host,
                                                                   int port,
                                                                   MetricsRegistry* registry);
  ~MetricsHttpServer();

  int port() const { return port_; }

 private:
  MetricsHttpServer(mg_context* ctx, int port) : ctx_(ctx), port_(port) {}
  mg_context* ctx_;
  int port_;
};

}  // namespace ternion
