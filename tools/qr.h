// QR codes for certificate verification URLs (libqrencode), written as PNG (libpng) or SVG.
#pragma once

#include <string>
#include <vector>

#include "ledger/bytes.h"
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

// The QR code of a verification URL with an offline status staple (api/staple.h) after it:
// "<url>#<Base45 of the staple>", the URL in byte mode and the staple in alphanumeric mode
// (FORMAT.md §16). A phone opens the URL (the fragment stays on the phone); an offline verifier
// reads the staple. *version receives the QR version used (1..40).
ledger::Status WriteStapleQr(const std::string& url, ledger::ByteSpan staple,
                             const std::string& path, int scale = 4, int* version = nullptr);
// The text of a staple QR code split into its URL and staple bytes.
struct StapleQrText {
  std::string url;
  ledger::Bytes staple;
};
ledger::Result<StapleQrText> ParseStapleQrText(const std::string& text);
// Decodes the QR code in a PNG image (libzbar): its text. InvalidArgument if none is found.
ledger::Result<std::string> ReadQrImage(const std::string& png_path);

// "<node>/v/<hash>" with any trailing slash of `node` removed.
std::string VerificationUrl(const std::string& node, const std::string& hash_hex);

}  // namespace certledger::tools
