#include "client/images.h"

#include "protocol/codec/lz.h"

namespace qxlbox::client {

using namespace qxlbox::proto;

const char* image_type_name(ImageType type) {
    switch (type) {
        case ImageType::Bitmap: return "BITMAP";
        case ImageType::Quic: return "QUIC";
        case ImageType::LzPlt: return "LZ_PLT";
        case ImageType::LzRgb: return "LZ_RGB";
        case ImageType::GlzRgb: return "GLZ_RGB";
        case ImageType::FromCache: return "FROM_CACHE";
        case ImageType::Surface: return "SURFACE";
        case ImageType::Jpeg: return "JPEG";
        case ImageType::FromCacheLossless: return "FROM_CACHE_LOSSLESS";
        case ImageType::ZlibGlzRgb: return "ZLIB_GLZ_RGB";
        case ImageType::JpegAlpha: return "JPEG_ALPHA";
        case ImageType::Lz4: return "LZ4";
    }
    return "unknown-type";
}

DecodeStatus decode_image(const Image& image, Bitmap& out, std::string& error) {
    const auto* enc = std::get_if<EncodedImage>(&image.content);
    if (image.type != ImageType::LzRgb && image.type != ImageType::LzPlt) return DecodeStatus::Unsupported;
    if (!enc) {
        error = "no encoded data";
        return DecodeStatus::Invalid;
    }
    auto header = codec::lz_parse_header(enc->data);
    if (!header) {
        error = header.error().to_string();
        return DecodeStatus::Invalid;
    }
    const bool palette_type = codec::lz_pixel_bytes(header->type) == 0;
    if (palette_type != (image.type == ImageType::LzPlt)) {
        error = "LZ stream type " + std::to_string(static_cast<unsigned>(header->type)) + " does not fit the image type";
        return DecodeStatus::Invalid;
    }
    // spice-gtk rejects an image whose codec header disagrees with its descriptor.
    if (header->width != image.width || header->height != image.height) {
        error = "LZ header size " + std::to_string(header->width) + "x" + std::to_string(header->height) +
                " differs from the descriptor's " + std::to_string(image.width) + "x" + std::to_string(image.height);
        return DecodeStatus::Invalid;
    }
    auto bitmap = codec::lz_decode_bitmap(enc->data, enc->palette);
    if (!bitmap) {
        error = bitmap.error().to_string();
        return DecodeStatus::Invalid;
    }
    out = std::move(bitmap).value();
    return DecodeStatus::Ok;
}

}  // namespace qxlbox::client
