// The node's metrics by Prometheus conventions (names with units: _seconds, _bytes, _total;
// a HELP line for each family), through prometheus-cpp: one registry for the values updated
// where they happen (counters, histograms), plus collectors for values kept elsewhere (read at
// scrape time), plus the standard process metrics. Rendered in the text exposition format
// (version 0.0.4) on the node's metrics listener (docs/API.md "Metrics and admin").
//
// Thread safety: everything may be called from any thread; collectors run on the scraping
// thread and must be thread-safe themselves.
#pragma once

#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace certledger::api {

class Metrics {
 public:
  using Collector = std::function<std::vector<prometheus::MetricFamily>()>;

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  [[nodiscard]] prometheus::Registry& registry() { return *registry_; }
  void AddCollector(Collector collect);
  // Every family: the registry's, the collectors', the process metrics; sorted by name.
  [[nodiscard]] std::string Render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mu_;
  std::vector<Collector> collectors_;  // GUARDED_BY(mu_)
};

// Latency buckets in seconds, 0.5 ms to 10 s.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

// One-sample families for collectors.
prometheus::MetricFamily GaugeFamily(const std::string& name, const std::string& help, double value,
                                     const std::map<std::string, std::string>& labels = {});
prometheus::MetricFamily CounterFamily(const std::string& name, const std::string& help,
                                       double value,
                                       const std::map<std::string, std::string>& labels = {});
// Adds one more labelled sample to a family made by GaugeFamily / CounterFamily.
void AddSample(prometheus::MetricFamily& family, double value,
               const std::map<std::string, std::string>& labels);

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds (Linux /proc/self).
std::vector<prometheus::MetricFamily> ProcessMetrics();

}  // namespace certledger::api
