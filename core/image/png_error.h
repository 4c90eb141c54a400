// libpng error plumbing shared by the PNG decoder and encoder. libpng reports
// errors by longjmp: OnPngError copies the message into the PngErrorText given
// to png_create_*_struct as its error pointer, then jumps back to the caller's
// setjmp. Warnings concern ancillary chunks (a bad iCCP, a CRC error in a text
// chunk) that do not change the pixels, so they are ignored, as Pillow does.
//
// Thread-safety: the callbacks touch only the PngErrorText of their own
// png_struct.
#pragma once

#include <png.h>

namespace camserve {

struct PngErrorText {
  char text[200];
};

// REQUIRES: png's error pointer is a PngErrorText*.
[[noreturn]] void OnPngError(png_structp png, png_const_charp message);
void OnPngWarning(png_structp png, png_const_charp message);

}  // namespace camserve
