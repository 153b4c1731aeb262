// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: it
// refuses what Prometheus itself would refuse and what our conventions forbid.
//
// Format rules checked: line syntax (`# HELP name text`, `# TYPE name type`, samples
// `name{label="value",...} value`); metric and label names; label values in double quotes with
// only \\, \" and \n escapes; at most one HELP and one TYPE per family, before its samples;
// a family's samples contiguous; no sample (name and label set) twice; values parse as floats
// (NaN, +Inf, -Inf allowed); histograms: _bucket samples with an `le` label, cumulative
// counts never decreasing, a +Inf bucket equal to _count, and _sum and _count present.
// Conventions checked: every family has HELP and TYPE; counters end in _total and their
// values (except *_seconds_total) are written as non-negative integers (no exponent, no fraction:
// rate() over a counter printed as 1.23457e+06 loses increments); no `_ms` units.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace certledger::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
  std::string raw_value;
};

struct PromFamily {
  std::string name, help, type;
  std::vector<PromSample> samples;
};

struct PromParse {
  std::map<std::string, PromFamily> families;
  std::string error;  // empty: valid
  [[nodiscard]] bool ok() const { return error.empty(); }
  // The value of a sample with exactly these labels, or nullopt.
  [[nodiscard]] std::optional<double> Value(
      const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& [fname, f] : families) {
      for (const auto& s : f.samples) {
        if (s.name == name && s.labels == labels) return s.value;
      }
    }
    return std::nullopt;
  }
};

namespace prom_internal {

inline bool ValidMetricName(const std::string& s) {
  static const std::regex re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  return std::regex_match(s, re);
}
inline bool ValidLabelName(const std::string& s) {
  static const std::regex re("[a-zA-Z_][a-zA-Z0-9_]*");
  return std::regex_match(s, re) && s.rfind("__", 0) != 0;
}
inline std::optional<double> ParseValue(const std::string& v) {
  if (v == "NaN") return std::nan("");
  if (v == "+Inf") return INFINITY;
  if (v == "-Inf") return -INFINITY;
  static const std::regex re("[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?");
  if (!std::regex_match(v, re)) return std::nullopt;
  return std::strtod(v.c_str(), nullptr);
}
// The family a sample belongs to: histogram samples carry suffixes.
inline std::string FamilyOf(const std::string& sample,
                            const std::map<std::string, PromFamily>& fs) {
  if (fs.count(sample)) return sample;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string sx(suffix);
    if (sample.size() > sx.size() &&
        sample.compare(sample.size() - sx.size(), sx.size(), sx) == 0) {
      const std::string base = sample.substr(0, sample.size() - sx.size());
      auto it = fs.find(base);
      if (it != fs.end() && (it->second.type == "histogram" || it->second.type == "summary")) {
        return base;
      }
    }
  }
  return sample;
}

}  // namespace prom_internal

inline PromParse ParsePrometheusText(const std::string& text) {
  using namespace prom_internal;  // NOLINT(google-build-using-namespace): test-only
  PromParse out;
  auto fail = [&](size_t line_no, const std::string& why, const std::string& line) {
    out.error = "line " + std::to_string(line_no) + ": " + why + ": " + line;
    return out;
  };
  std::set<std::string> finished;  // families whose samples ended
  std::string current;             // family of the previous sample
  std::set<std::string> seen;      // name + label set
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  if (!text.empty() && text.back() != '\n') return fail(0, "no final newline", "");
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream ls(line);
      std::string hash, kind, name;
      ls >> hash >> kind >> name;
      if (kind != "HELP" && kind != "TYPE") continue;  // a comment
      if (!ValidMetricName(name)) return fail(n, "bad metric name", line);
      PromFamily& f = out.families[name];
      f.name = name;
      if (!f.samples.empty()) return fail(n, kind + " after samples", line);
      std::string rest;
      std::getline(ls, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (kind == "HELP") {
        if (!f.help.empty()) return fail(n, "second HELP", line);
        if (rest.empty()) return fail(n, "empty HELP", line);
        for (size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\' &&
              (i + 1 >= rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n'))) {
            return fail(n, "bad escape in HELP", line);
          }
          if (rest[i] == '\\') ++i;
        }
        f.help = rest;
      } else {
        if (!f.type.empty()) return fail(n, "second TYPE", line);
        static const std::set<std::string> types = {"counter", "gauge", "histogram", "summary",
                                                    "untyped"};
        if (!types.count(rest)) return fail(n, "bad TYPE", line);
        f.type = rest;
      }
      continue;
    }
    // A sample.
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    PromSample s;
    s.name = line.substr(0, i);
    if (!ValidMetricName(s.name)) return fail(n, "bad metric name", line);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) return fail(n, "bad label", line);
        std::string lname = line.substr(i, eq - i);
        if (!ValidLabelName(lname)) return fail(n, "bad label name", line);
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') return fail(n, "label value not quoted", line);
        ++i;
        std::string value;
        while (true) {
          if (i >= line.size()) return fail(n, "unterminated label value", line);
          char c = line[i++];
          if (c == '"') break;
          if (c == '\\') {
            if (i >= line.size()) return fail(n, "bad escape", line);
            char e = line[i++];
            if (e == '\\')
              value += '\\';
            else if (e == '"')
              value += '"';
            else if (e == 'n')
              value += '\n';
            else
              return fail(n, "bad escape in label value", line);
          } else {
            value += c;
          }
        }
        if (s.labels.count(lname)) return fail(n, "label twice", line);
        s.labels[lname] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
    }
    if (i >= line.size() || line[i] != ' ') return fail(n, "no value", line);
    std::string rest = line.substr(i + 1);
    const size_t sp = rest.find(' ');
    s.raw_value = rest.substr(0, sp);
    if (sp != std::string::npos) {
      static const std::regex ts("-?[0-9]+");
      if (!std::regex_match(rest.substr(sp + 1), ts)) return fail(n, "bad timestamp", line);
    }
    auto v = ParseValue(s.raw_value);
    if (!v) return fail(n, "bad value", line);
    s.value = *v;
    const std::string fam = FamilyOf(s.name, out.families);
    if (fam != current) {
      if (finished.count(fam)) return fail(n, "samples of a family not together", line);
      if (!current.empty()) finished.insert(current);
      current = fam;
    }
    std::string key = s.name + "{";
    for (const auto& [k, lv] : s.labels) key += k + "=" + lv + ",";
    if (!seen.insert(key).second) return fail(n, "sample twice", line);
    PromFamily& f = out.families[fam];
    f.name = fam;
    f.samples.push_back(std::move(s));
  }
  // Conventions and histogram consistency.
  for (const auto& [name, f] : out.families) {
    if (f.help.empty()) return fail(0, "no HELP for " + name, "");
    if (f.type.empty()) return fail(0, "no TYPE for " + name, "");
    if (name.find("_ms") != std::string::npos) return fail(0, "_ms unit in " + name, "");
    if (f.type == "counter") {
      if (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0) {
        return fail(0, "counter without _total: " + name, "");
      }
      static const std::regex integer("[0-9]+");
      // Counters of seconds (process_cpu_seconds_total) are fractional by nature.
      const bool seconds = name.find("_seconds_total") != std::string::npos;
      for (const auto& s : f.samples) {
        if (seconds) continue;
        if (!std::regex_match(s.raw_value, integer)) {
          return fail(0, "counter value not a plain integer: " + s.name + " " + s.raw_value, "");
        }
      }
    }
    if (f.type == "histogram") {
      // Group by the labels other than le.
      std::map<std::map<std::string, std::string>, std::vector<const PromSample*>> series;
      std::map<std::map<std::string, std::string>, std::pair<bool, double>> sums, counts;
      for (const auto& s : f.samples) {
        auto labels = s.labels;
        if (s.name == name + "_bucket") {
          if (!labels.count("le")) return fail(0, "bucket without le: " + name, "");
          labels.erase("le");
          series[labels].push_back(&s);
        } else if (s.name == name + "_sum") {
          sums[labels] = {true, s.value};
        } else if (s.name == name + "_count") {
          counts[labels] = {true, s.value};
        } else {
          return fail(0, "unexpected sample in histogram " + name + ": " + s.name, "");
        }
      }
      for (const auto& [labels, buckets] : series) {
        double prev = 0, prev_le = -INFINITY;
        bool inf = false;
        double inf_value = 0;
        for (const PromSample* b : buckets) {
          auto le = ParseValue(b->labels.at("le"));
          if (!le || *le <= prev_le) return fail(0, "buckets out of order in " + name, "");
          if (b->value < prev) return fail(0, "bucket counts decrease in " + name, "");
          prev = b->value;
          prev_le = *le;
          if (std::isinf(*le)) {
            inf = true;
            inf_value = b->value;
          }
        }
        if (!inf) return fail(0, "no +Inf bucket in " + name, "");
        if (!sums.count(labels) || !counts.count(labels)) {
          return fail(0, "histogram " + name + " without _sum or _count", "");
        }
        if (counts[labels].second != inf_value) {
          return fail(0, "+Inf bucket differs from _count in " + name, "");
        }
      }
    }
  }
  return out;
}

}  // namespace certledger::testing
