#include "api/page.h"

#include <nlohmann/json.hpp>

#include <ctime>

#include "ledger/encoding.h"

namespace certledger::api {

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

namespace {

// Every text colour is at least 4.5:1 against both backgrounds of the page (the card's #ffffff
// and the body's #f6f8fa): WCAG 2.1 AA for normal text (tests/api/handlers_test.cc checks it).
struct StatusLook {
  const char* zh;
  const char* en;
  const char* colour;
};

const char* ColourOf(VerifyStatus s) {
  switch (s) {
    case VerifyStatus::kValid:
      return "#1a7f37";
    case VerifyStatus::kSuperseded:
      return "#9a6700";
    case VerifyStatus::kSuspended:
      return "#bc4c00";
    case VerifyStatus::kExpired:
      return "#656d76";
    case VerifyStatus::kRevoked:
      return "#cf222e";
    case VerifyStatus::kUnknown:
      break;
  }
  return "#424a53";
}

// The label (api/verify_status.h) in its colour.
StatusLook LookOf(const Verification& v) {
  const StatusLabel label =
      StatusLabelOf(v.status, v.cert ? std::optional(v.cert->status) : std::nullopt);
  return {label.zh, label.en, ColourOf(v.status)};
}

// Dates and times in China Standard Time (UTC+8), as printed on the permits.
std::tm CstOf(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s + 8 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

std::string DateOf(int64_t unix_s) {
  const std::tm tm = CstOf(unix_s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

// Unix milliseconds as "YYYY-MM-DD HH:MM:SS (UTC+8)".
std::string DateTimeOf(int64_t unix_ms) {
  const int64_t s = unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000);
  const std::tm tm = CstOf(s);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d (UTC+8)", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// An English fragment inside the zh-CN page.
std::string En(std::string_view text) {
  return "<span lang=\"en\">" + HtmlEscape(text) + "</span>";
}

// A table row whose value is HTML already (every ledger value in it escaped by the caller).
std::string RowHtml(const char* zh, const char* en, const std::string& html, const char* id = "") {
  std::string tr = *id != '\0' ? "<tr id=\"" + std::string(id) + "\">" : std::string("<tr>");
  return tr + "<th>" + zh + "<br><small lang=\"en\">" + en + "</small></th><td>" + html +
         "</td></tr>\n";
}

std::string Row(const char* zh, const char* en, const std::string& value, const char* id = "") {
  return RowHtml(zh, en, HtmlEscape(value), id);
}

// The first 16 hex digits of a hash, for people to compare by eye.
std::string ShortHex(const Hash256& h) { return h.Hex().substr(0, 16) + "…"; }

// The rows that explain the certificate's status: the latest suspension, resumption or
// revocation (its date and reason) and the kind of revocation.
std::string StatusChangeRows(const ledger::CertificateState& c) {
  const ledger::HistoryEntry* change = nullptr;
  for (auto it = c.history.rbegin(); it != c.history.rend(); ++it) {
    if (IsStatusEvent(it->type)) {
      change = &*it;
      break;
    }
  }
  if (change == nullptr) return "";
  std::string rows;
  const std::string date = HtmlEscape(DateOf(change->time_ms / 1000));
  switch (change->type) {
    case ledger::EventType::kSuspend:
      rows += RowHtml("暂扣日期", "Suspended on", date, "status-date");
      break;
    case ledger::EventType::kResume:
      rows += RowHtml("恢复日期", "Resumed on", date, "status-date");
      break;
    default:
      if (c.status == ledger::CertStatus::kCancelled) {
        rows += RowHtml("终止方式", "Revocation kind", "注销 " + En("cancelled"), "status-kind");
        rows += RowHtml("注销日期", "Cancelled on", date, "status-date");
      } else if (c.status == ledger::CertStatus::kWithdrawn) {
        rows += RowHtml("终止方式", "Revocation kind", "撤销 " + En("withdrawn"), "status-kind");
        rows += RowHtml("撤销日期", "Withdrawn on", date, "status-date");
      } else {
        rows += RowHtml("终止方式", "Revocation kind", "吊销 " + En("revoked"), "status-kind");
        rows += RowHtml("吊销日期", "Revoked on", date, "status-date");
      }
      break;
  }
  if (!c.status_reason.empty()) {
    rows += Row(change->type == ledger::EventType::kResume ? "说明" : "原因",
                change->type == ledger::EventType::kResume ? "Note" : "Reason", c.status_reason,
                "status-reason");
  }
  return rows;
}

// The page for GET /v/{hash}: `checked_ms` is the time the answer was computed for.
}  // namespace

std::string VerificationHtml(const Verification& v, int64_t checked_ms) {
  StatusLook look = LookOf(v);
  std::string rows;
  if (v.cert) {
    const auto& c = *v.cert;
    rows += StatusChangeRows(c);
    if (v.doc->version < c.version && !c.versions.empty()) {
      const ledger::VersionRecord& latest = c.versions.back();
      const std::string n = std::to_string(latest.version);
      rows += RowHtml("最新版本", "Latest version",
                      "<a id=\"newer\" href=\"/v/" + HtmlEscape(latest.document_hash.Hex()) +
                          "\">第 " + n + " 版 " + En("version " + n) + "</a><br>" +
                          HtmlEscape(FullIdentifier(c.base_id, latest.version)),
                      "newer-version");
    }
    const auto* s = std::get_if<ledger::WaterPermitSummary>(&c.summary);
    rows += Row("发证机关", "Issuer", v.issuer_name);
    if (c.controller != c.issuer) {
      rows += Row("现管理机关", "Responsible agency", v.controller_name);
    }
    if (s != nullptr) {
      rows += Row("许可证编号", "Permit number", s->permit_number);
      // Organisation names only: an individual holder's name is personal data.
      rows += s->holder_kind == ledger::HolderKind::kOrganisation
                  ? Row("取水权人", "Holder", s->holder_name)
                  : RowHtml("取水权人", "Holder", "（个人 " + En("Individual") + "）");
      rows += RowHtml("水源类型", "Water source",
                      s->source == ledger::WaterSource::kSurface ? "地表水 " + En("Surface water")
                                                                 : "地下水 " + En("Groundwater"));
      char qty[64];
      std::snprintf(qty, sizeof qty, "%llu m³ (%.2f 万m³)",
                    static_cast<unsigned long long>(s->annual_quantity_m3),
                    static_cast<double>(s->annual_quantity_m3) / 10000.0);
      rows += Row("年取水量", "Annual quantity", qty);
    }
    rows += Row("有效期", "Validity", DateOf(c.not_before) + " — " + DateOf(c.not_after));
    rows +=
        Row("版本", "Version", std::to_string(v.doc->version) + " / " + std::to_string(c.version));
    rows += Row("电子证照标识", "Identifier", FullIdentifier(c.base_id, v.doc->version));
  }
  rows += Row("文档哈希", "Document hash", v.document_hash.Hex());
  rows += Row("核验时间", "Checked at", DateTimeOf(checked_ms), "checked-at");
  const std::string none = "—";
  rows += Row("证明区块高度", "Proof block height",
              v.header ? std::to_string(v.header->height) : none, "block-height");
  rows +=
      Row("区块时间", "Block time", v.header ? DateTimeOf(v.header->time_ms) : none, "block-time");
  rows += Row("区块哈希", "Block hash", v.header ? ShortHex(ledger::BlockHash(*v.header)) : none,
              "block-hash");
  rows +=
      Row("状态根", "State root", v.header ? ShortHex(v.header->state_root) : none, "state-root");

  std::string html;
  html += "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>取水许可电子证照核验</title>\n";
  // One text colour per rule, as #rrggbb; backgrounds #f6f8fa (body) and #ffffff (the card).
  html +=
      "<style>body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
      "margin:0;padding:16px;background:#f6f8fa;color:#24292f}"
      ".card{max-width:560px;margin:0 auto;background:#ffffff;border-radius:12px;padding:20px;"
      "box-shadow:0 1px 3px rgba(0,0,0,.12)}"
      "h1{font-size:15px;font-weight:normal;margin:0 0 12px;color:#57606a}"
      "#status{font-size:34px;font-weight:bold;margin:8px 0 16px;color:" +
      std::string(look.colour) +
      "}#status small{display:block;font-size:18px;font-weight:normal}"
      "table{width:100%;border-collapse:collapse;font-size:15px}"
      "th{text-align:left;vertical-align:top;padding:6px 8px 6px 0;width:38%;color:#57606a;"
      "font-weight:normal}th small{color:#656d76}"
      "td{padding:6px 0;word-break:break-all}tr{border-top:1px solid #eaeef2}"
      "a{color:#0969da}"
      "p.note{font-size:12px;color:#57606a;margin-top:16px}</style>\n</head>\n<body>\n";
  html += "<div class=\"card\">\n<h1>取水许可电子证照核验<br>" +
          En("Water-abstraction permit verification") + "</h1>\n";
  html += "<div id=\"status\" data-status=\"" + std::string(VerifyStatusName(v.status)) + "\">" +
          look.zh + "<small lang=\"en\">" + look.en + "</small></div>\n";
  html += "<table>\n" + rows + "</table>\n";
  html += "<p class=\"note\">本页由账本节点生成，不含证明；<a id=\"proof\" href=\"/v1/verify/" +
          HtmlEscape(v.document_hash.Hex()) + "\">JSON 证明 " + En("JSON proof") +
          "</a>可独立核验（certledger verify）。<br>" +
          En("Generated by a ledger node, without proofs; the JSON answer carries proofs that "
             "can be checked independently (certledger verify).") +
          "</p>\n";
  html += "</div>\n</body>\n</html>\n";
  return html;
}

}  // namespace certledger::api
