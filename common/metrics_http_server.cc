#include "common/metrics_http_server.h"

#include <civetweb.h>

#include <mutex>

#include "absl/strings/str_cat.h"

namespace ternion {
namespace {

int HandleMetrics(mg_connection* conn, void* cbdata) {
  auto* registry = static_cast<MetricsRegistry*>(cbdata);
  std::string body = registry->Render();
  mg_printf(conn,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: %zu\r\n"
            "Connection: close\r\n\r\n",
            body.size());
  mg_write(conn, body.data(), body.size());
  return 200;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host, int port, MetricsRegistry* registry) {
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
  std::string ports = absl::StrCat(host, ":", port);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "2", nullptr};
  mg_callbacks callbacks = {};
  mg_context* ctx = mg_start(&callbacks, nullptr, options);
  if (ctx == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", ports));
  }
  mg_set_request_handler(ctx, "/metrics$", HandleMetrics, registry);
  mg_server_port bound[1];
  if (mg_get_server_ports(ctx, 1, bound) < 1) {
    mg_stop(ctx);
    return absl::InternalError("metrics server has no listening port");
  }
  return std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(ctx, bound[0].port));
}

MetricsHttpServer::~MetricsHttpServer() { mg_stop(ctx_); }

}  // namespace ternion
