#include "common/metrics_http_server.h"

#include <CivetServer.h>
#include <civetweb.h>

#include <cstring>
#include <exception>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"
#include "prometheus/exposer.h"

namespace ternion {
namespace {

// The page is reached through civetweb's begin_request hook, which carries no pointer of ours:
// hence one page per process.
absl::Mutex page_mu;
MetricsHttpServer::HtmlPage& Page() ABSL_EXCLUSIVE_LOCKS_REQUIRED(page_mu) {
  static auto* page = new MetricsHttpServer::HtmlPage();
  return *page;
}

// Serves the page on GET / and /status; anything else (/metrics) goes on to the Exposer.
int ServePage(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (std::strcmp(info->local_uri, "/") != 0 && std::strcmp(info->local_uri, "/status") != 0) {
    return 0;
  }
  MetricsHttpServer::HtmlPage page;
  {
    absl::MutexLock lock(&page_mu);
    page = Page();
  }
  if (!page) return 0;
  if (std::strcmp(info->request_method, "GET") != 0) {
    mg_printf(conn, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
    return 405;
  }
  std::string body = page();
  mg_printf(conn,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "Cache-Control: no-store\r\n"
            "Content-Length: %zu\r\n"
            "Connection: close\r\n\r\n",
            body.size());
  mg_write(conn, body.data(), body.size());
  return 200;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const std::string& host,
                                                                            int port,
                                                                            HtmlPage page) {
  std::string address = absl::StrCat(host, ":", port);
  std::unique_ptr<prometheus::Exposer> exposer;
  CivetCallbacks callbacks;
  callbacks.begin_request = ServePage;
  try {
    exposer = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", address, "num_threads", "2"}, &callbacks);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  exposer->RegisterCollectable(MetricsCollectable());
  std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) return absl::InternalError("metrics server has no listening port");
  const bool has_page = page != nullptr;
  if (has_page) {
    absl::MutexLock lock(&page_mu);
    Page() = std::move(page);
  }
  return std::unique_ptr<MetricsHttpServer>(
      new MetricsHttpServer(std::move(exposer), ports[0], has_page));
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<prometheus::Exposer> exposer, int port,
                                     bool has_page)
    : exposer_(std::move(exposer)), port_(port), has_page_(has_page) {}

MetricsHttpServer::~MetricsHttpServer() {
  exposer_.reset();  // no request runs the page past here
  if (has_page_) {
    absl::MutexLock lock(&page_mu);
    Page() = nullptr;
  }
}

}  // namespace ternion
