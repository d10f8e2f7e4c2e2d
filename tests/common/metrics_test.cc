#include "common/metrics.h"

#include <civetweb.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "common/metrics_http_server.h"

namespace ternion {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// GET path from 127.0.0.1:port: the status line and body, or the error.
std::string HttpGet(int port, const std::string& path) {
  char error[256] = {};
  mg_connection* conn = mg_download("127.0.0.1", port, 0, error, sizeof(error),
                                    "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path.c_str());
  if (conn == nullptr) return std::string("error: ") + error;
  std::string out = std::to_string(mg_get_response_info(conn)->status_code) + "\n";
  char buf[4096];
  for (int n; (n = mg_read(conn, buf, sizeof(buf))) > 0;) out.append(buf, n);
  mg_close_connection(conn);
  return out;
}

TEST(MetricsTest, SameNameAndLabelsIsSameMetric) {
  prometheus::Counter* a = GetCounter("test_same_total", "help", {{"k", "v"}});
  EXPECT_EQ(a, GetCounter("test_same_total", "help", {{"k", "v"}}));
  EXPECT_NE(a, GetCounter("test_same_total", "help", {{"k", "w"}}));
  a->Increment(2);
  EXPECT_THAT(RenderMetrics(), HasSubstr("test_same_total{k=\"v\"} 2\n"));
}

TEST(MetricsTest, ANameKeepsItsType) {
  GetCounter("test_typed_total", "help");
  EXPECT_THROW(GetGauge("test_typed_total", "help"), std::invalid_argument);
}

TEST(MetricsTest, ACounterAdvancesToATotalKeptElsewhereAndNeverBack) {
  prometheus::Counter* c = GetCounter("test_advanced_total", "help");
  AdvanceCounterTo(c, 5);
  AdvanceCounterTo(c, 8);
  EXPECT_EQ(c->Value(), 8);
  AdvanceCounterTo(c, 3);  // a total that went back (a restart) does not move it down
  EXPECT_EQ(c->Value(), 8);
}

TEST(MetricsTest, HistogramIsCumulative) {
  prometheus::Histogram* h = GetHistogram("test_latency_seconds", "help", {0.1, 1});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5);
  std::string text = RenderMetrics();
  EXPECT_THAT(text, HasSubstr("test_latency_seconds_bucket{le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("test_latency_seconds_bucket{le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("test_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("test_latency_seconds_count 3\n"));
}

TEST(MetricsTest, CollectorsRunBeforeEveryScrape) {
  static int runs = 0;  // the collector outlives the test
  AddMetricsCollector([] { GetGauge("test_collected", "help")->Set(++runs); });
  EXPECT_THAT(RenderMetrics(), HasSubstr("test_collected 1\n"));
  EXPECT_THAT(RenderMetrics(), HasSubstr("test_collected 2\n"));
}

TEST(MetricsHttpServerTest, ServesMetricsAndThePage) {
  GetGauge("test_served", "help")->Set(7);
  auto server = MetricsHttpServer::Start("127.0.0.1", 0, [] { return std::string("<p>hi</p>"); });
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  EXPECT_THAT(HttpGet(port, "/metrics"), HasSubstr("\ntest_served 7\n"));
  EXPECT_EQ(HttpGet(port, "/status"), "200\n<p>hi</p>");
  EXPECT_EQ(HttpGet(port, "/"), "200\n<p>hi</p>");
  EXPECT_THAT(HttpGet(port, "/other"), Not(HasSubstr("<p>hi</p>")));
}

TEST(MetricsHttpServerTest, WithoutAPageOnlyMetricsAreServed) {
  auto server = MetricsHttpServer::Start("127.0.0.1", 0);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT(HttpGet((*server)->port(), "/status"), Not(HasSubstr("200")));
  EXPECT_THAT(HttpGet((*server)->port(), "/metrics"), HasSubstr("200\n"));
}

// A restarted daemon binds its metrics port again while connections of its last run linger in
// TIME_WAIT (local clusters pin their ports across restarts).
TEST(MetricsHttpServerTest, APortJustClosedCanBeServedAgain) {
  int port;
  {
    auto first = MetricsHttpServer::Start("127.0.0.1", 0);
    ASSERT_TRUE(first.ok()) << first.status();
    port = (*first)->port();
    EXPECT_THAT(HttpGet(port, "/metrics"), HasSubstr("200\n"));
  }
  auto again = MetricsHttpServer::Start("127.0.0.1", port);
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST(MetricsHttpServerTest, ATakenPortIsAnError) {
  auto first = MetricsHttpServer::Start("127.0.0.1", 0);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = MetricsHttpServer::Start("127.0.0.1", (*first)->port());
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace ternion
