// Prometheus metrics: counters, gauges and histograms with labels, kept in memory and
// rendered in the Prometheus text format (version 0.0.4) for a scrape. The process has one
// default registry (DefaultMetrics()) that every module records to; the gateway serves it on
// its metrics port. Thread-safe.
#ifndef ONCEONLY_COMMON_METRICS_H_
#define ONCEONLY_COMMON_METRICS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace onceonly {

class MetricFamily;

// A named metric with fixed label names; each set of label values is one series.
class Counter {
 public:
  void Add(const std::vector<std::string>& labels, double amount = 1);

 private:
  friend class MetricsRegistry;
  explicit Counter(MetricFamily* family) : family_(family) {}
  MetricFamily* family_;
};

class Gauge {
 public:
  void Set(const std::vector<std::string>& labels, double value);
  void Add(const std::vector<std::string>& labels, double amount);

 private:
  friend class MetricsRegistry;
  explicit Gauge(MetricFamily* family) : family_(family) {}
  MetricFamily* family_;
};

// Latencies in seconds, in fixed buckets from 100 µs to 10 s.
class Histogram {
 public:
  void Observe(const std::vector<std::string>& labels, double seconds);

 private:
  friend class MetricsRegistry;
  explicit Histogram(MetricFamily* family) : family_(family) {}
  MetricFamily* family_;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  // The same name twice returns the same metric (labels must match).
  Counter& counter(const std::string& name, const std::string& help,
                   std::vector<std::string> label_names);
  Gauge& gauge(const std::string& name, const std::string& help,
               std::vector<std::string> label_names);
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names);
  // Runs `collect` at the start of every Render(), in the order the collectors were added,
  // until the returned registration is destroyed: for values that must be current when
  // scraped (an age derives from the clock, not from an event). `collect` may set this
  // registry's metrics; it must not add or drop a collector. The registry must outlive the
  // registration.
  class Collection;
  [[nodiscard]] std::unique_ptr<Collection> AddCollector(std::function<void()> collect);

  // Every metric, in the Prometheus text format.
  std::string Render() const;

 private:
  struct Entry;
  // The metric `name`, made on first use; the same name as another kind aborts.
  template <typename Metric>
  Metric& Register(int kind, const std::string& name, const std::string& help,
                   std::vector<std::string> label_names, std::unique_ptr<Metric> Entry::*slot);
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  // Held while collectors run, so that a registration's destructor waits for its collector.
  mutable absl::Mutex collectors_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::map<uint64_t, std::function<void()>> collectors_ ABSL_GUARDED_BY(collectors_mu_);
  uint64_t next_collector_ ABSL_GUARDED_BY(collectors_mu_) = 0;
};

class MetricsRegistry::Collection {
 public:
  ~Collection();
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

 private:
  friend class MetricsRegistry;
  Collection(MetricsRegistry& registry, uint64_t id) : registry_(registry), id_(id) {}
  MetricsRegistry& registry_;
  const uint64_t id_;
};

MetricsRegistry& DefaultMetrics();

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_METRICS_H_
