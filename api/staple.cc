#include "api/staple.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "api/verify_status.h"
#include "ledger/coding.h"
#include "ledger/commit.h"
#include "ledger/encoding.h"
#include "ledger/smt.h"

namespace certledger::api {

using ledger::Bytes;
using ledger::ByteSpan;
using ledger::Hash256;
using ledger::Result;
using ledger::Status;

namespace {

constexpr uint8_t kStapleVersion = 1;
constexpr size_t kMaxValue = 64 * 1024;
constexpr size_t kMaxProof = 2 + 32 + 256 * 32 + 1 + 64;
constexpr size_t kMaxValidators = 1024;

// A u32 length of at most `max`, then that many bytes.
bool GetBlob(ledger::ByteReader& r, size_t max, Bytes* out) {
  ByteSpan b;
  if (!r.GetLengthPrefixed(&b) || b.size() > max) return false;
  out->assign(b.begin(), b.end());
  return true;
}

Status Bad(const std::string& why) { return Status::InvalidArgument("decode staple: " + why); }
Status Refuse(const std::string& why) { return Status::InvalidArgument("staple: " + why); }

size_t PopCount(const std::vector<uint8_t>& bitmap) {
  size_t n = 0;
  for (uint8_t b : bitmap) n += static_cast<size_t>(__builtin_popcount(b));
  return n;
}

}  // namespace

Bytes Staple::Encode() const {
  Bytes out;
  auto raw = [&out](ByteSpan b) { out.insert(out.end(), b.begin(), b.end()); };
  out.push_back(kStapleVersion);
  raw(document_hash.span());
  ledger::PutFixed64(&out, static_cast<uint64_t>(expires_ms));
  ledger::PutLengthPrefixed(&out, cert_value);
  ledger::PutLengthPrefixed(&out, cert_proof);
  out.push_back(static_cast<uint8_t>(anchor));
  if (anchor == Anchor::kEmbedded) {
    ledger::PutLengthPrefixed(&out, ledger::Encode(header));
    ledger::PutFixed32(&out, round);
    ledger::PutLengthPrefixed(&out, signers);
    for (const auto& s : signatures) raw(s.span());
  } else {
    ledger::PutFixed64(&out, checkpoint_height);
    raw(checkpoint_block_id.span());
  }
  return out;
}

Result<Staple> Staple::Decode(ByteSpan in) {
  ledger::ByteReader r(in);
  Staple s;
  uint8_t version = 0, anchor = 0;
  uint64_t expires = 0;
  if (!r.GetU8(&version)) return Bad("empty");
  if (version != kStapleVersion) return Bad("unknown version " + std::to_string(version));
  if (!r.GetFixedBytes(&s.document_hash) || !r.GetFixed64(&expires) ||
      !GetBlob(r, kMaxValue, &s.cert_value) || !GetBlob(r, kMaxProof, &s.cert_proof) ||
      !r.GetU8(&anchor)) {
    return Bad("truncated or oversized");
  }
  s.expires_ms = static_cast<int64_t>(expires);
  if (anchor == static_cast<uint8_t>(Anchor::kEmbedded)) {
    s.anchor = Anchor::kEmbedded;
    Bytes header;
    if (!GetBlob(r, 4096, &header) || !r.GetFixed32(&s.round) ||
        !GetBlob(r, kMaxValidators / 8, &s.signers)) {
      return Bad("truncated embedded commit");
    }
    auto h = ledger::Decode<ledger::BlockHeader>(header);
    if (!h.ok()) return Bad("header: " + h.status().message());
    s.header = *h;
    const size_t n = PopCount(s.signers);
    for (size_t i = 0; i < n; ++i) {
      ledger::Signature sig;
      if (!r.GetFixedBytes(&sig)) return Bad("truncated signatures");
      s.signatures.push_back(sig);
    }
  } else if (anchor == static_cast<uint8_t>(Anchor::kCheckpoint)) {
    s.anchor = Anchor::kCheckpoint;
    if (!r.GetFixed64(&s.checkpoint_height) || !r.GetFixedBytes(&s.checkpoint_block_id)) {
      return Bad("truncated checkpoint reference");
    }
  } else {
    return Bad("unknown anchor " + std::to_string(anchor));
  }
  if (!r.done()) return Bad("trailing bytes");
  return s;
}

Staple MakeEmbeddedStaple(const Hash256& document_hash, const Bytes& cert_value,
                          const Bytes& cert_proof, const ledger::BlockHeader& header,
                          const ledger::CommitCertificate& commit,
                          const ledger::ValidatorSet& validators) {
  Staple s;
  s.document_hash = document_hash;
  s.expires_ms = header.time_ms + kStapleValidityMs;
  s.cert_value = cert_value;
  s.cert_proof = cert_proof;
  s.anchor = Staple::Anchor::kEmbedded;
  s.header = header;
  s.round = commit.round;
  const auto& vals = validators.validators;
  s.signers.assign((vals.size() + 7) / 8, 0);
  // The fewest signatures that carry more than 2/3 of the power, in set order.
  const uint64_t total = validators.TotalPower();
  uint64_t power = 0;
  for (size_t i = 0; i < vals.size() && power * 3 <= total * 2; ++i) {
    for (const auto& sig : commit.signatures) {
      if (sig.validator != vals[i].key) continue;
      s.signers[i / 8] = static_cast<uint8_t>(s.signers[i / 8] | (1u << (i % 8)));
      s.signatures.push_back(sig.signature);
      power += vals[i].power;
      break;
    }
  }
  return s;
}

Result<StapleFacts> VerifyStaple(const Staple& staple, const ledger::ChainDomain& domain,
                                 const ledger::ValidatorSet& validators,
                                 const std::vector<ledger::BlockHeader>& checkpoints,
                                 int64_t now_ms, int64_t max_age_ms) {
  StapleFacts f;
  // Cheap checks first: expiry and the anchor's identity, then signatures.
  if (staple.anchor == Staple::Anchor::kEmbedded) {
    f.header = staple.header;
    if (f.header.chain_id != domain.chain_id) {
      return Refuse("of chain " + f.header.chain_id + ", not " + domain.chain_id);
    }
    if (f.header.validator_set_hash != validators.Hash()) {
      return Refuse("committed by validator set " + f.header.validator_set_hash.Hex() +
                    ", not the one given");
    }
    const auto& vals = validators.validators;
    if (staple.signers.size() != (vals.size() + 7) / 8) {
      return Refuse("the signer bitmap does not match the validator set's size");
    }
    for (size_t i = vals.size(); i < staple.signers.size() * 8; ++i) {
      if ((staple.signers[i / 8] >> (i % 8)) & 1) return Refuse("signer bitmap padding set");
    }
  } else {
    const ledger::BlockHeader* cp = nullptr;
    for (const auto& h : checkpoints) {
      if (h.height == staple.checkpoint_height &&
          ledger::BlockHash(h) == staple.checkpoint_block_id)
        cp = &h;
    }
    if (cp == nullptr) {
      return Refuse("rests on checkpoint " + std::to_string(staple.checkpoint_height) +
                    ", which is not among the checkpoints given (fetch /v1/checkpoint)");
    }
    f.header = *cp;
  }
  // expires_ms is not signed: the protocol's validity window bounds it.
  int64_t limit = std::min(staple.expires_ms, f.header.time_ms + kStapleValidityMs);
  if (max_age_ms > 0) limit = std::min(limit, f.header.time_ms + max_age_ms);
  if (now_ms > limit) {
    return Refuse("expired (its block is of " + std::to_string(f.header.time_ms / 1000) +
                  " s since 1970, good until " + std::to_string(limit / 1000) + ")");
  }
  f.expires_ms = limit;
  if (staple.anchor == Staple::Anchor::kEmbedded) {
    ledger::CommitCertificate commit;
    commit.height = f.header.height;
    commit.round = staple.round;
    commit.block_id = ledger::BlockHash(f.header);
    const auto& vals = validators.validators;
    size_t next = 0;
    for (size_t i = 0; i < vals.size(); ++i) {
      if (((staple.signers[i / 8] >> (i % 8)) & 1) == 0) continue;
      commit.signatures.push_back({vals[i].key, staple.signatures[next++]});
    }
    if (Status st =
            ledger::VerifyCommit(domain, validators, f.header.height, commit.block_id, commit);
        !st.ok()) {
      return Refuse("commit: " + st.message());
    }
  }
  auto cert = ledger::Decode<ledger::CertificateState>(staple.cert_value);
  if (!cert.ok()) return Refuse("certificate state: " + cert.status().message());
  f.cert = std::move(cert).value();
  if (Status st = ledger::SmtVerifyPresence(
          f.header.state_root, ledger::SmtKeyHash(ledger::CertKey(f.cert.base_id)),
          ledger::SmtValueHash(staple.cert_value), staple.cert_proof);
      !st.ok()) {
    return Refuse("the certificate state is not proven under the header's state root: " +
                  st.message());
  }
  const ledger::VersionRecord* version = nullptr;
  for (const auto& v : f.cert.versions) {
    if (v.document_hash == staple.document_hash) version = &v;
  }
  if (version == nullptr) return Refuse("the certificate does not list this document");
  f.version = version->version;
  f.status = VerifyStatusName(DecideStatus(f.cert, f.version, now_ms));
  return f;
}

namespace {
constexpr char kB45[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
}

std::string Base45Encode(ByteSpan in) {
  std::string out;
  out.reserve(in.size() / 2 * 3 + 2);
  size_t i = 0;
  for (; i + 1 < in.size(); i += 2) {
    uint32_t n = ledger::DecodeFixed16BE(&in[i]);
    out.push_back(kB45[n % 45]);
    n /= 45;
    out.push_back(kB45[n % 45]);
    out.push_back(kB45[n / 45]);
  }
  if (i < in.size()) {
    out.push_back(kB45[in[i] % 45]);
    out.push_back(kB45[in[i] / 45]);
  }
  return out;
}

std::optional<Bytes> Base45Decode(std::string_view in) {
  auto val = [](char c) -> int {
    const char* p = std::strchr(kB45, c);
    return c == '\0' || p == nullptr ? -1 : static_cast<int>(p - kB45);
  };
  if (in.size() % 3 == 1) return std::nullopt;
  Bytes out;
  out.reserve(in.size() / 3 * 2 + 1);
  for (size_t i = 0; i < in.size(); i += 3) {
    const size_t k = std::min<size_t>(3, in.size() - i);
    uint32_t n = 0, mul = 1;
    for (size_t j = 0; j < k; ++j) {
      const int v = val(in[i + j]);
      if (v < 0) return std::nullopt;
      n += static_cast<uint32_t>(v) * mul;
      mul *= 45;
    }
    if (k == 3) {
      if (n > 0xffff) return std::nullopt;
      ledger::PutFixed16BE(&out, static_cast<uint16_t>(n));
    } else {
      if (n > 0xff) return std::nullopt;
      out.push_back(static_cast<uint8_t>(n));
    }
  }
  return out;
}

}  // namespace certledger::api
