#include "tools/qr.h"

#include <png.h>
#include <qrencode.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "api/staple.h"
#include "tools/zbar_api.h"

namespace certledger::tools {

using ledger::Result;
using ledger::Status;

namespace {

constexpr int kQuiet = 4;

Status WritePng(const QrMatrix& m, const std::string& path, int scale) {
  const int dim = (m.size + 2 * kQuiet) * scale;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::IOError("cannot write " + path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  if (png == nullptr || info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    std::fclose(f);
    return Status::IOError("libpng: out of memory");
  }
  std::vector<png_byte> row(static_cast<size_t>(dim));
  // libpng reports errors by longjmp; nothing with a destructor is created after this point
  // except `row`, which lives outside the jump.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
    return Status::IOError("libpng failed writing " + path);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, static_cast<png_uint_32>(dim), static_cast<png_uint_32>(dim), 8,
               PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < dim; ++y) {
    const int my = y / scale - kQuiet;
    for (int x = 0; x < dim; ++x) {
      const int mx = x / scale - kQuiet;
      const bool dark = mx >= 0 && my >= 0 && mx < m.size && my < m.size && m.at(mx, my);
      row[static_cast<size_t>(x)] = dark ? 0 : 255;
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  if (std::fclose(f) != 0) return Status::IOError("cannot write " + path);
  return Status::Ok();
}

Status WriteSvg(const QrMatrix& m, const std::string& path) {
  const int dim = m.size + 2 * kQuiet;
  std::string d;
  for (int y = 0; y < m.size; ++y) {
    for (int x = 0; x < m.size; ++x) {
      if (m.at(x, y)) {
        d += "M" + std::to_string(x + kQuiet) + " " + std::to_string(y + kQuiet) + "h1v1h-1z";
      }
    }
  }
  std::ofstream out(path);
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << dim << " " << dim
      << "\" width=\"" << dim * 8 << "\" height=\"" << dim * 8
      << "\" shape-rendering=\"crispEdges\">\n"
      << "<rect width=\"" << dim << "\" height=\"" << dim << "\" fill=\"#fff\"/>\n"
      << "<path fill=\"#000\" d=\"" << d << "\"/>\n</svg>\n";
  if (!out) return Status::IOError("cannot write " + path);
  return Status::Ok();
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<QrMatrix> EncodeQr(const std::string& text) {
  if (text.empty() || text.size() > 2000) return Status::InvalidArgument("QR text: 1..2000 bytes");
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeString8bit(text.c_str(), 0, QR_ECLEVEL_M), &QRcode_free);
  if (!code) return Status::InvalidArgument("libqrencode could not encode the text");
  QrMatrix m;
  m.size = code->width;
  m.dark.resize(static_cast<size_t>(m.size) * static_cast<size_t>(m.size));
  for (size_t i = 0; i < m.dark.size(); ++i) m.dark[i] = (code->data[i] & 1) != 0;
  return m;
}

Status WriteQr(const std::string& text, const std::string& path, int scale) {
  if (scale < 1 || scale > 64) return Status::InvalidArgument("--scale: 1..64");
  auto m = EncodeQr(text);
  if (!m.ok()) return m.status();
  if (EndsWith(path, ".png")) return WritePng(*m, path, scale);
  if (EndsWith(path, ".svg")) return WriteSvg(*m, path);
  return Status::InvalidArgument("--out: the file name must end in .png or .svg");
}

Status WriteStapleQr(const std::string& url, ledger::ByteSpan staple, const std::string& path,
                     int scale, int* version) {
  if (scale < 1 || scale > 64) return Status::InvalidArgument("--scale: 1..64");
  const std::string head = url + "#";
  const std::string tail = api::Base45Encode(staple);
  std::unique_ptr<QRinput, decltype(&QRinput_free)> in(QRinput_new2(0, QR_ECLEVEL_M),
                                                       &QRinput_free);
  if (!in ||
      QRinput_append(in.get(), QR_MODE_8, static_cast<int>(head.size()),
                     reinterpret_cast<const unsigned char*>(head.data())) != 0 ||
      QRinput_append(in.get(), QR_MODE_AN, static_cast<int>(tail.size()),
                     reinterpret_cast<const unsigned char*>(tail.data())) != 0) {
    return Status::InvalidArgument("libqrencode could not take the staple");
  }
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(QRcode_encodeInput(in.get()), &QRcode_free);
  if (!code) {
    return Status::InvalidArgument("the URL and a staple of " + std::to_string(staple.size()) +
                                   " bytes do not fit in one QR code at level M");
  }
  if (version != nullptr) *version = code->version;
  QrMatrix m;
  m.size = code->width;
  m.dark.resize(static_cast<size_t>(m.size) * static_cast<size_t>(m.size));
  for (size_t i = 0; i < m.dark.size(); ++i) m.dark[i] = (code->data[i] & 1) != 0;
  if (EndsWith(path, ".png")) return WritePng(m, path, scale);
  if (EndsWith(path, ".svg")) return WriteSvg(m, path);
  return Status::InvalidArgument("--out: the file name must end in .png or .svg");
}

Result<StapleQrText> ParseStapleQrText(const std::string& text) {
  const size_t hash = text.find('#');
  if (hash == std::string::npos) {
    return Status::InvalidArgument("the QR code holds no staple (no '#' after the URL)");
  }
  auto staple = api::Base45Decode(std::string_view(text).substr(hash + 1));
  if (!staple) return Status::InvalidArgument("the QR code's staple is not Base45");
  return StapleQrText{text.substr(0, hash), std::move(*staple)};
}

Result<std::string> ReadQrImage(const std::string& png_path) {
  std::FILE* f = std::fopen(png_path.c_str(), "rb");
  if (f == nullptr) return Status::InvalidArgument("cannot read " + png_path);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  std::vector<uint8_t> pixels;
  bool ok = png_image_begin_read_from_stdio(&image, f) != 0;
  if (ok && (image.width > 8000 || image.height > 8000)) {
    png_image_free(&image);
    ok = false;
  }
  if (ok) {
    image.format = PNG_FORMAT_GRAY;
    pixels.resize(PNG_IMAGE_SIZE(image));
    ok = png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr) != 0;
  }
  std::fclose(f);
  if (!ok)
    return Status::InvalidArgument(png_path + ": not a readable PNG image of at most 8000 px");
  zbar_image_scanner_t* scanner = zbar_image_scanner_create();
  zbar_image_t* zimg = zbar_image_create();
  constexpr unsigned long kY800 = 0x30303859;  // NOLINT: fourcc "Y800", 8-bit grey
  zbar_image_set_format(zimg, kY800);
  zbar_image_set_size(zimg, image.width, image.height);
  zbar_image_set_data(zimg, pixels.data(), pixels.size(), nullptr);
  const int found = zbar_scan_image(scanner, zimg);
  std::string text;
  if (found > 0) {
    const zbar_symbol_t* s = zbar_image_first_symbol(zimg);
    if (s != nullptr) text.assign(zbar_symbol_get_data(s), zbar_symbol_get_data_length(s));
  }
  zbar_image_destroy(zimg);
  zbar_image_scanner_destroy(scanner);
  if (text.empty()) return Status::InvalidArgument(png_path + ": no QR code found in the image");
  return text;
}

std::string VerificationUrl(const std::string& node, const std::string& hash_hex) {
  std::string base = node;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/v/" + hash_hex;
}

}  // namespace certledger::tools
