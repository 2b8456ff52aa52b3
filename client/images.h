// Turns a wire image (protocol/draw.h Image with EncodedImage content) into a Bitmap the
// canvas can draw: LZ_RGB and LZ_PLT through protocol/codec. Other codecs (QUIC, GLZ, JPEG,
// LZ4, zlib-GLZ) are not decoded by the client; it asks the server for LZ instead
// (PREFERRED_COMPRESSION) and reports them as unsupported if they arrive anyway.
#pragma once

#include <string>

#include "protocol/draw.h"

namespace qxlbox::client {

enum class DecodeStatus { Ok, Unsupported, Invalid };

DecodeStatus decode_image(const proto::Image& image, proto::Bitmap& out, std::string& error);

const char* image_type_name(proto::ImageType type);

}  // namespace qxlbox::client
