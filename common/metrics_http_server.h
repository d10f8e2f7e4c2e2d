#pragma once

// The HTTP endpoint of a daemon: /metrics from the process's metrics registry, served by
// prometheus-cpp's Exposer, and optionally one read-only HTML page (the master's status page)
// on "/" and "/status" from the same server.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace prometheus {
class Exposer;
}

namespace ternion {

class MetricsHttpServer {
 public:
  // Returns the HTML page's body; called on the server's threads for each request.
  using HtmlPage = std::function<std::string()>;

  // Listens on host:port (port 0 picks a free port). At most one server per process has a page.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& host, int port,
                                                                  HtmlPage page = nullptr);
  ~MetricsHttpServer();

  int port() const { return port_; }

 private:
  MetricsHttpServer(std::unique_ptr<prometheus::Exposer> exposer, int port, bool has_page);
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
  bool has_page_;
};

}  // namespace ternion
