#pragma once

// Ternion's metrics: one prometheus-cpp registry per process, served on /metrics by
// prometheus-cpp's Exposer (common/metrics_http_server.h). The Get* helpers find or create a
// metric by name and labels; the pointers they return stay valid for the life of the process,
// so hot paths look a metric up once and keep the pointer. A name is bound to one type; asking
// for it as another type throws (a programming error).

#include <functional>
#include <string>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/labels.h"
#include "prometheus/registry.h"

namespace ternion {

prometheus::Counter* GetCounter(const std::string& name, const std::string& help,
                                const prometheus::Labels& labels = {});
prometheus::Gauge* GetGauge(const std::string& name, const std::string& help,
                            const prometheus::Labels& labels = {});
prometheus::Histogram* GetHistogram(const std::string& name, const std::string& help,
                                    const std::vector<double>& upper_bounds,
                                    const prometheus::Labels& labels = {});

// Moves `counter` up to `total`, a count kept elsewhere (the kernel's CPU time, a journal's
// syncs): counters only grow, so it gains what the total gained since the last call. Safe when
// two scrapes call it at once.
void AdvanceCounterTo(prometheus::Counter* counter, double total);

// Exponential bucket bounds for latencies in seconds: 50 µs .. ~13 s.
std::vector<double> LatencySecondsBuckets();

// Registers a function run before every scrape, to refresh gauges computed on demand (e.g.
// live chunkservers). It may call Get*, and must not scrape.
void AddMetricsCollector(std::function<void()> collector);

// The process's registry with its collectors run first: what /metrics serves.
std::shared_ptr<prometheus::Collectable> MetricsCollectable();

// The same in the Prometheus text format (tests and tools).
std::string RenderMetrics();

}  // namespace ternion
