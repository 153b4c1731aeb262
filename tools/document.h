// The holder's copy of a certificate document (the file `certledger tx issue|change|renew`
// writes): every field of ledger::CertificateDocument, holder identity and salt included, plus its
// canonical encoding and document hash so that anyone can re-check the hash the QR code carries.
//
//   {"document": {"chain_id", "identifier", "issuer", "type", "holder": {"id_type", "id_number",
//                 "name", "salt"}, "not_before", "not_after", "issued_at", "summary",
//                 "previous_document"},
//    "encoded": "<hex of Encode(CertificateDocument)>", "document_hash": "<hex>",
//    "holder_commitment": "<hex>"}
//
// `id_type` is "credit-code" (001) or "citizen-id" (111). The file holds personal data: it is
// written with mode 0600.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>

#include "ledger/status.h"
#include "ledger/types.h"

namespace certledger::tools {

nlohmann::json DocumentFileJson(const ledger::CertificateDocument& doc);
// Parses the "document" object; if "encoded" / "document_hash" / "holder_commitment" are
// present they must match the document (InvalidArgument naming the field otherwise).
ledger::Result<ledger::CertificateDocument> ParseDocumentFile(const nlohmann::json& j);
ledger::Result<ledger::CertificateDocument> ReadDocumentFile(const std::string& path);
// Writes with mode 0600 (replacing an existing file).
ledger::Status WriteDocumentFile(const std::string& path, const ledger::CertificateDocument& doc);

}  // namespace certledger::tools
