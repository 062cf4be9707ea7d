#include "common/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace onceonly {
namespace {

enum class Kind { kCounter, kGauge, kHistogram };

// Upper bounds, in seconds.
constexpr double kBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                               0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,    10};
constexpr int kBucketCount = sizeof(kBuckets) / sizeof(kBuckets[0]);

std::string EscapeLabel(const std::string& value) {
  return absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest form that reads back the same: le="0.1", not "0.10000000000000001".
  for (int digits = 6; digits < 17; ++digits) {
    std::string text = absl::StrFormat("%.*g", digits, v);
    if (std::strtod(text.c_str(), nullptr) == v) return text;
  }
  return absl::StrFormat("%.17g", v);
}

// One name registered as two kinds of metric: a programming error, caught at start-up.
[[noreturn]] void KindClash(const std::string& name) {
  std::fprintf(stderr, "metrics: %s is registered as two kinds of metric\n", name.c_str());
  std::abort();
}

}  // namespace

class MetricFamily {
 public:
  MetricFamily(Kind kind, std::string name, std::string help, std::vector<std::string> labels)
      : kind_(kind), name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)) {}

  void Add(const std::vector<std::string>& labels, double amount) {
    absl::MutexLock lock(&mu_);
    series_[labels].value += amount;
  }
  void Set(const std::vector<std::string>& labels, double value) {
    absl::MutexLock lock(&mu_);
    series_[labels].value = value;
  }
  void Observe(const std::vector<std::string>& labels, double seconds) {
    absl::MutexLock lock(&mu_);
    Series& s = series_[labels];
    if (s.buckets.empty()) s.buckets.assign(kBucketCount, 0);
    for (int i = 0; i < kBucketCount; ++i) {
      if (seconds <= kBuckets[i]) ++s.buckets[i];
    }
    s.value += seconds;  // the sum
    ++s.count;
  }

  void Render(std::string* out) const {
    absl::MutexLock lock(&mu_);
    absl::StrAppend(out, "# HELP ", name_, " ", help_, "\n# TYPE ", name_, " ",
                    kind_ == Kind::kCounter   ? "counter"
                    : kind_ == Kind::kGauge   ? "gauge"
                                              : "histogram",
                    "\n");
    for (const auto& [values, s] : series_) {
      std::vector<std::string> pairs;
      for (size_t i = 0; i < labels_.size() && i < values.size(); ++i) {
        pairs.push_back(absl::StrCat(labels_[i], "=\"", EscapeLabel(values[i]), "\""));
      }
      const std::string labels = absl::StrJoin(pairs, ",");
      if (kind_ != Kind::kHistogram) {
        absl::StrAppend(out, name_, labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}",
                        " ", Number(s.value), "\n");
        continue;
      }
      const std::string prefix = labels.empty() ? "" : labels + ",";
      for (int i = 0; i < kBucketCount; ++i) {
        absl::StrAppend(out, name_, "_bucket{", prefix, "le=\"", Number(kBuckets[i]), "\"} ",
                        s.buckets.empty() ? 0 : s.buckets[i], "\n");
      }
      absl::StrAppend(out, name_, "_bucket{", prefix, "le=\"+Inf\"} ", s.count, "\n");
      absl::StrAppend(out, name_, "_sum", labels.empty() ? "" : "{", labels,
                      labels.empty() ? "" : "}", " ", Number(s.value), "\n");
      absl::StrAppend(out, name_, "_count", labels.empty() ? "" : "{", labels,
                      labels.empty() ? "" : "}", " ", s.count, "\n");
    }
  }

 private:
  struct Series {
    double value = 0;  // counter or gauge value; a histogram's sum
    int64_t count = 0;
    std::vector<int64_t> buckets;  // cumulative counts per bound
  };
  const Kind kind_;
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> labels_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, Series> series_ ABSL_GUARDED_BY(mu_);
};

void Counter::Add(const std::vector<std::string>& labels, double amount) {
  family_->Add(labels, amount);
}
void Gauge::Set(const std::vector<std::string>& labels, double value) {
  family_->Set(labels, value);
}
void Gauge::Add(const std::vector<std::string>& labels, double amount) {
  family_->Add(labels, amount);
}
void Histogram::Observe(const std::vector<std::string>& labels, double seconds) {
  family_->Observe(labels, seconds);
}

struct MetricsRegistry::Entry {
  std::unique_ptr<MetricFamily> family;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

template <typename Metric>
Metric& MetricsRegistry::Register(int kind, const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names,
                                  std::unique_ptr<Metric> Entry::*slot) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Entry>& e = entries_[name];
  if (e == nullptr) {
    e = std::make_unique<Entry>();
    e->family = std::make_unique<MetricFamily>(static_cast<Kind>(kind), name, help,
                                               std::move(label_names));
    ((*e).*slot).reset(new Metric(e->family.get()));
  }
  if ((*e).*slot == nullptr) KindClash(name);
  return *((*e).*slot);
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  return Register(static_cast<int>(Kind::kCounter), name, help, std::move(label_names),
                  &Entry::counter);
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names) {
  return Register(static_cast<int>(Kind::kGauge), name, help, std::move(label_names),
                  &Entry::gauge);
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  return Register(static_cast<int>(Kind::kHistogram), name, help, std::move(label_names),
                  &Entry::histogram);
}

std::unique_ptr<MetricsRegistry::Collection> MetricsRegistry::AddCollector(
    std::function<void()> collect) {
  absl::MutexLock lock(&collectors_mu_);
  const uint64_t id = next_collector_++;
  collectors_.emplace(id, std::move(collect));
  return std::unique_ptr<Collection>(new Collection(*this, id));
}

MetricsRegistry::Collection::~Collection() {
  absl::MutexLock lock(&registry_.collectors_mu_);
  registry_.collectors_.erase(id_);
}

std::string MetricsRegistry::Render() const {
  {
    absl::MutexLock lock(&collectors_mu_);
    for (const auto& [id, collect] : collectors_) collect();
  }
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, e] : entries_) e->family->Render(&out);
  return out;
}

MetricsRegistry& DefaultMetrics() {
  static auto* const registry = new MetricsRegistry();
  return *registry;
}

}  // namespace onceonly
