#include "api/metrics.h"

#include "api/handlers.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace certledger::api {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}
Metrics::~Metrics() = default;

void Metrics::AddCollector(Collector collect) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string Metrics::Render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  {
    std::lock_guard lock(mu_);
    for (const auto& c : collectors_) {
      auto more = c();
      families.insert(families.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
  }
  auto process = ProcessMetrics();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  std::stable_sort(families.begin(), families.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  return prometheus::TextSerializer().Serialize(families);
}

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}

namespace {
prometheus::ClientMetric Sample(prometheus::MetricType type, double value,
                                const std::map<std::string, std::string>& labels) {
  prometheus::ClientMetric m;
  for (const auto& [k, v] : labels) m.label.push_back({k, v});
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}
prometheus::MetricFamily Family(prometheus::MetricType type, const std::string& name,
                                const std::string& help, double value,
                                const std::map<std::string, std::string>& labels) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  f.metric.push_back(Sample(type, value, labels));
  return f;
}
}  // namespace

prometheus::MetricFamily GaugeFamily(const std::string& name, const std::string& help, double value,
                                     const std::map<std::string, std::string>& labels) {
  return Family(prometheus::MetricType::Gauge, name, help, value, labels);
}

prometheus::MetricFamily CounterFamily(const std::string& name, const std::string& help,
                                       double value,
                                       const std::map<std::string, std::string>& labels) {
  return Family(prometheus::MetricType::Counter, name, help, value, labels);
}

void AddSample(prometheus::MetricFamily& family, double value,
               const std::map<std::string, std::string>& labels) {
  family.metric.push_back(Sample(family.type, value, labels));
}

std::vector<prometheus::MetricFamily> ProcessMetrics() {
  std::vector<prometheus::MetricFamily> out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // /proc/self/stat: the command (field 2) is in parentheses and may hold spaces: parse after
  // the last ')'. Fields from there: 3 state ... 14 utime 15 stime ... 22 starttime 23 vsize
  // 24 rss.
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  const size_t close = line.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(line.substr(close + 2));
    std::vector<std::string> f((std::istream_iterator<std::string>(in)),
                               std::istream_iterator<std::string>());
    // f[0] is field 3.
    auto field = [&](size_t n) { return n - 3 < f.size() ? std::stod(f[n - 3]) : 0.0; };
    if (f.size() >= 22) {
      out.push_back(CounterFamily("process_cpu_seconds_total",
                                  "Total user and system CPU time spent in seconds.",
                                  (field(14) + field(15)) / ticks));
      out.push_back(
          GaugeFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.", field(23)));
      out.push_back(GaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes.",
                                field(24) * page));
      // Boot time from /proc/stat's btime, plus the start time in ticks since boot.
      std::ifstream ps("/proc/stat");
      std::string key;
      double btime = 0;
      while (ps >> key) {
        if (key == "btime") {
          ps >> btime;
          break;
        }
        ps.ignore(1 << 20, '\n');
      }
      out.push_back(GaugeFamily("process_start_time_seconds",
                                "Start time of the process since unix epoch in seconds.",
                                btime + field(22) / ticks));
    }
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  out.push_back(GaugeFamily("process_open_fds", "Number of open file descriptors.", fds));
  const long max_fds = sysconf(_SC_OPEN_MAX);
  out.push_back(GaugeFamily("process_max_fds", "Maximum number of open file descriptors.",
                            static_cast<double>(max_fds)));
  return out;
}

// ---- HttpMetrics ------------------------------------------------------------------------------

struct HttpMetrics::Impl {
  explicit Impl(prometheus::Registry& r)
      : requests(prometheus::BuildCounter()
                     .Name("certledger_http_requests_total")
                     .Help("HTTP requests answered, by route pattern and status code.")
                     .Register(r)),
        durations(prometheus::BuildHistogram()
                      .Name("certledger_http_request_duration_seconds")
                      .Help("Time from a request's arrival to its answer, by route pattern.")
                      .Register(r)),
        open(prometheus::BuildGauge()
                 .Name("certledger_http_open_connections")
                 .Help("Open HTTP connections on the public API.")
                 .Register(r)
                 .Add({})),
        verification(prometheus::BuildHistogram()
                         .Name("certledger_verification_seconds")
                         .Help("Time to build one verification answer (proofs, signature).")
                         .Register(r)
                         .Add({}, LatencyBuckets())) {}
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& durations;
  prometheus::Gauge& open;
  prometheus::Histogram& verification;
};

HttpMetrics::HttpMetrics(Metrics& metrics) : impl_(std::make_unique<Impl>(metrics.registry())) {}
HttpMetrics::~HttpMetrics() = default;

void HttpMetrics::Record(const std::string& route, int status, double seconds) {
  impl_->requests.Add({{"route", route}, {"code", std::to_string(status)}}).Increment();
  impl_->durations.Add({{"route", route}}, LatencyBuckets()).Observe(seconds);
}

void HttpMetrics::SetOpenConnections(size_t open) { impl_->open.Set(static_cast<double>(open)); }

void HttpMetrics::RecordVerification(double seconds) { impl_->verification.Observe(seconds); }

}  // namespace certledger::api
