// The few functions of libzbar (https://github.com/mchehab/zbar, Debian package libzbar0) that
// `certledger verify --qr-image` uses, declared as in its public header <zbar.h> (C API, stable
// since 0.10). Declared here because Debian's libzbar-dev pulls in ImageMagick's development
// packages (about 90 packages) for one header; the library itself is linked by its soname.
#pragma once

extern "C" {
typedef struct zbar_image_scanner_s zbar_image_scanner_t;   // NOLINT
typedef struct zbar_image_s zbar_image_t;                   // NOLINT
typedef struct zbar_symbol_s zbar_symbol_t;                 // NOLINT
typedef void(zbar_image_cleanup_handler_t)(zbar_image_t*);  // NOLINT

zbar_image_scanner_t* zbar_image_scanner_create(void);
void zbar_image_scanner_destroy(zbar_image_scanner_t* scanner);
int zbar_scan_image(zbar_image_scanner_t* scanner, zbar_image_t* image);
zbar_image_t* zbar_image_create(void);
void zbar_image_destroy(zbar_image_t* image);
void zbar_image_set_format(zbar_image_t* image, unsigned long format);  // NOLINT
void zbar_image_set_size(zbar_image_t* image, unsigned width, unsigned height);
void zbar_image_set_data(zbar_image_t* image, const void* data,
                         unsigned long data_byte_length,  // NOLINT
                         zbar_image_cleanup_handler_t* cleanup_handler);
const zbar_symbol_t* zbar_image_first_symbol(const zbar_image_t* image);
const zbar_symbol_t* zbar_symbol_next(const zbar_symbol_t* symbol);
const char* zbar_symbol_get_data(const zbar_symbol_t* symbol);
unsigned int zbar_symbol_get_data_length(const zbar_symbol_t* symbol);
}
