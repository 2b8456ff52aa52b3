#include "client/images.h"

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
    (void)image;
    (void)out;
    (void)error;
    return DecodeStatus::Unsupported;
}

}  // namespace qxlbox::client
