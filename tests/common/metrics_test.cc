#include "common/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ternion {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, CountersAndGaugesRender) {
  MetricsRegistry r;
  r.GetCounter("ternion_test_bytes_total", "Bytes.", {{"op", "write"}})->Increment(5);
  r.GetCounter("ternion_test_bytes_total", "Bytes.", {{"op", "write"}})->Increment(2);
  r.GetGauge("ternion_test_live", "Live things.")->Set(3);
  std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("# HELP ternion_test_bytes_total Bytes.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE ternion_test_bytes_total counter\n"));
  EXPECT_THAT(text, HasSubstr("ternion_test_bytes_total{op=\"write\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE ternion_test_live gauge\nternion_test_live 3\n"));
}

TEST(MetricsTest, HistogramIsCumulative) {
  MetricsRegistry r;
  Histogram* h = r.GetHistogram("ternion_test_seconds", "Latency.", {0.1, 1.0});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5);
  std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("ternion_test_seconds_bucket{le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ternion_test_seconds_bucket{le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ternion_test_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("ternion_test_seconds_sum 5.55\n"));
  EXPECT_THAT(text, HasSubstr("ternion_test_seconds_count 3\n"));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  MetricsRegistry r;
  r.GetGauge("ternion_test_g", "G.", {{"path", "a\"b\\c\nd"}})->Set(1);
  EXPECT_THAT(r.Render(), HasSubstr("ternion_test_g{path=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(MetricsTest, CollectorsRunBeforeRender) {
  MetricsRegistry r;
  int calls = 0;
  r.AddCollector([&] { r.GetGauge("ternion_test_calls", "Calls.")->Set(++calls); });
  EXPECT_THAT(r.Render(), HasSubstr("ternion_test_calls 1\n"));
  EXPECT_THAT(r.Render(), HasSubstr("ternion_test_calls 2\n"));
}

}  // namespace
}  // namespace ternion
