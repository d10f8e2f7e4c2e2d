#include "common/metrics.h"

#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/text_serializer.h"

namespace ternion {
namespace {

// The registry, and the collectors run before each of its scrapes.
class CollectedRegistry : public prometheus::Collectable {
 public:
  prometheus::Registry& registry() { return registry_; }

  void AddCollector(std::function<void()> collector) {
    absl::MutexLock lock(&mu_);
    collectors_.push_back(std::move(collector));
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<std::function<void()>> collectors;
    {
      absl::MutexLock lock(&mu_);
      collectors = collectors_;
    }
    for (auto& c : collectors) c();  // outside the lock: collectors call Get*
    return registry_.Collect();
  }

 private:
  prometheus::Registry registry_;
  mutable absl::Mutex mu_;
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(mu_);
};

// Never destroyed: metrics are touched by threads until the process exits.
const std::shared_ptr<CollectedRegistry>& Process() {
  static auto* registry = new std::shared_ptr<CollectedRegistry>(new CollectedRegistry());
  return *registry;
}

}  // namespace

prometheus::Counter* GetCounter(const std::string& name, const std::string& help,
                                const prometheus::Labels& labels) {
  return &prometheus::BuildCounter()
              .Name(name)
              .Help(help)
              .Register(Process()->registry())
              .Add(labels);
}

prometheus::Gauge* GetGauge(const std::string& name, const std::string& help,
                            const prometheus::Labels& labels) {
  return &prometheus::BuildGauge()
              .Name(name)
              .Help(help)
              .Register(Process()->registry())
              .Add(labels);
}

prometheus::Histogram* GetHistogram(const std::string& name, const std::string& help,
                                    const std::vector<double>& upper_bounds,
                                    const prometheus::Labels& labels) {
  return &prometheus::BuildHistogram()
              .Name(name)
              .Help(help)
              .Register(Process()->registry())
              .Add(labels, upper_bounds);
}

void AdvanceCounterTo(prometheus::Counter* counter, double total) {
  static absl::Mutex* mu = new absl::Mutex();  // read and add as one step
  absl::MutexLock lock(mu);
  const double gained = total - counter->Value();
  if (gained > 0) counter->Increment(gained);
}

std::vector<double> LatencySecondsBuckets() {
  std::vector<double> b;
  for (int i = 0; 50e-6 * (1 << i) < 20; ++i) b.push_back(50e-6 * (1 << i));
  return b;
}

void AddMetricsCollector(std::function<void()> collector) {
  Process()->AddCollector(std::move(collector));
}

std::shared_ptr<prometheus::Collectable> MetricsCollectable() { return Process(); }

std::string RenderMetrics() { return prometheus::TextSerializer().Serialize(Process()->Collect()); }

}  // namespace ternion
