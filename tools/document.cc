#include "tools/document.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "api/json.h"
#include "ledger/encoding.h"

namespace certledger::tools {

using ledger::Result;
using ledger::Status;
using Json = nlohmann::json;

namespace {

const char* IdTypeName(ledger::HolderIdType t) {
  return t == ledger::HolderIdType::kCitizenId ? "citizen-id" : "credit-code";
}

Result<std::string> Str(const Json& j, const char* path, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) {
    return Status::InvalidArgument(std::string(path) + "." + key + ": expected a string");
  }
  return j[key].get<std::string>();
}
Result<int64_t> Int(const Json& j, const char* path, const char* key) {
  if (!j.contains(key) || !j[key].is_number_integer()) {
    return Status::InvalidArgument(std::string(path) + "." + key + ": expected an integer");
  }
  return j[key].get<int64_t>();
}
Result<ledger::Hash256> Hash(const Json& j, const char* path, const char* key) {
  auto s = Str(j, path, key);
  if (!s.ok()) return s.status();
  auto h = ledger::Hash256::FromHexString(*s);
  if (!h) return Status::InvalidArgument(std::string(path) + "." + key + ": expected 64 hex");
  return *h;
}

}  // namespace

Json DocumentFileJson(const ledger::CertificateDocument& doc) {
  Json holder{{"id_type", IdTypeName(doc.holder.id_type)},
              {"id_number", doc.holder.id_number},
              {"name", doc.holder.name},
              {"salt", doc.holder.salt.Hex()}};
  Json d{{"chain_id", doc.chain_id},
         {"identifier", doc.identifier},
         {"issuer", doc.issuer},
         {"type", api::CertTypeName(doc.type)},
         {"holder", std::move(holder)},
         {"not_before", doc.not_before},
         {"not_after", doc.not_after},
         {"issued_at", doc.issued_at},
         {"summary", api::ToJson(doc.summary)},
         {"previous_document", nullptr}};
  if (doc.previous_document) d["previous_document"] = doc.previous_document->Hex();
  return Json{{"document", std::move(d)},
              {"encoded", ledger::ToHex(ledger::Encode(doc))},
              {"document_hash", ledger::DocumentHash(doc).Hex()},
              {"holder_commitment", ledger::HolderCommitment(doc.holder).Hex()}};
}

Result<ledger::CertificateDocument> ParseDocumentFile(const Json& j) {
  if (!j.is_object() || !j.contains("document") || !j["document"].is_object()) {
    return Status::InvalidArgument("document: expected an object");
  }
  const Json& d = j["document"];
  ledger::CertificateDocument doc;
  auto chain = Str(d, "document", "chain_id");
  if (!chain.ok()) return chain.status();
  doc.chain_id = *chain;
  auto id = Str(d, "document", "identifier");
  if (!id.ok()) return id.status();
  doc.identifier = *id;
  auto issuer = Str(d, "document", "issuer");
  if (!issuer.ok()) return issuer.status();
  doc.issuer = *issuer;
  auto type = Str(d, "document", "type");
  if (!type.ok()) return type.status();
  if (*type != api::CertTypeName(ledger::CertType::kWaterAbstractionPermit)) {
    return Status::InvalidArgument("document.type: unknown certificate type " + *type);
  }
  if (!d.contains("holder") || !d["holder"].is_object()) {
    return Status::InvalidArgument("document.holder: expected an object");
  }
  const Json& h = d["holder"];
  auto id_type = Str(h, "document.holder", "id_type");
  if (!id_type.ok()) return id_type.status();
  if (*id_type == "credit-code") {
    doc.holder.id_type = ledger::HolderIdType::kCreditCode;
  } else if (*id_type == "citizen-id") {
    doc.holder.id_type = ledger::HolderIdType::kCitizenId;
  } else {
    return Status::InvalidArgument("document.holder.id_type: credit-code or citizen-id");
  }
  auto number = Str(h, "document.holder", "id_number");
  if (!number.ok()) return number.status();
  doc.holder.id_number = *number;
  auto name = Str(h, "document.holder", "name");
  if (!name.ok()) return name.status();
  doc.holder.name = *name;
  auto salt = Hash(h, "document.holder", "salt");
  if (!salt.ok()) return salt.status();
  doc.holder.salt = *salt;
  for (auto [key, field] :
       {std::pair{"not_before", &doc.not_before}, std::pair{"not_after", &doc.not_after},
        std::pair{"issued_at", &doc.issued_at}}) {
    auto v = Int(d, "document", key);
    if (!v.ok()) return v.status();
    *field = *v;
  }
  if (!d.contains("summary")) return Status::InvalidArgument("document.summary: missing");
  auto summary = api::FromJson<ledger::CertSummary>(d["summary"]);
  if (!summary.ok())
    return Status::InvalidArgument("document.summary: " + summary.status().message());
  doc.summary = *summary;
  if (d.contains("previous_document") && !d["previous_document"].is_null()) {
    auto prev = Hash(d, "document", "previous_document");
    if (!prev.ok()) return prev.status();
    doc.previous_document = *prev;
  }
  if (j.contains("encoded")) {
    if (!j["encoded"].is_string() ||
        j["encoded"].get<std::string>() != ledger::ToHex(ledger::Encode(doc))) {
      return Status::InvalidArgument("encoded: does not match the document's fields");
    }
  }
  if (j.contains("document_hash")) {
    if (!j["document_hash"].is_string() ||
        j["document_hash"].get<std::string>() != ledger::DocumentHash(doc).Hex()) {
      return Status::InvalidArgument("document_hash: does not match the document");
    }
  }
  if (j.contains("holder_commitment")) {
    if (!j["holder_commitment"].is_string() ||
        j["holder_commitment"].get<std::string>() != ledger::HolderCommitment(doc.holder).Hex()) {
      return Status::InvalidArgument("holder_commitment: does not match the holder");
    }
  }
  return doc;
}

Result<ledger::CertificateDocument> ReadDocumentFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > (1u << 20)) return Status::InvalidArgument(path + ": larger than 1 MiB");
  auto j = api::ParseJson(ss.str());
  if (!j.ok()) return Status::InvalidArgument(path + ": " + j.status().message());
  auto doc = ParseDocumentFile(*j);
  if (!doc.ok()) return Status::InvalidArgument(path + ": " + doc.status().message());
  return doc;
}

Status WriteDocumentFile(const std::string& path, const ledger::CertificateDocument& doc) {
  const std::string text = DocumentFileJson(doc).dump(2) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Status::IOError("cannot write " + path);
  return Status::Ok();
}

}  // namespace certledger::tools
