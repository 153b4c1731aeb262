// QR codes for certificate verification URLs (libqrencode), written as PNG (libpng) or SVG.
#pragma once

#include <string>
#include <vector>

#include "ledger/status.h"

namespace certledger::tools {

// The modules of a QR code: size x size, true = dark. Error correction level M.
struct QrMatrix {
  int size = 0;
  std::vector<bool> dark;
  [[nodiscard]] bool at(int x, int y) const {
    return dark[static_cast<size_t>(y) * static_cast<size_t>(size) + static_cast<size_t>(x)];
  }
};
ledger::Result<QrMatrix> EncodeQr(const std::string& text);

// Writes the QR code of `text` to `path`; the format follows the extension (.png or .svg).
// `scale` pixels per module (PNG) and a 4-module quiet zone.
ledger::Status WriteQr(const std::string& text, const std::string& path, int scale = 8);

// "<node>/v/<hash>" with any trailing slash of `node` removed.
std::string VerificationUrl(const std::string& node, const std::string& hash_hex);

}  // namespace certledger::tools
