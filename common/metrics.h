// Prometheus metrics: counters, gauges and histograms with labels, kept in memory and
// rendered in the Prometheus text format (version 0.0.4) for a scrape. The process has one
// default registry (DefaultMetrics()) that every module records to; the gateway serves it on
// its metrics port. Thread-safe.
#ifndef ONCEONLY_COMMON_METRICS_H_
#define ONCEONLY_COMMON_METRICS_H_

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
};

MetricsRegistry& DefaultMetrics();

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_METRICS_H_
