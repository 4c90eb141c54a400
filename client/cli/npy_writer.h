// EncodeNpyFloat32: a 2-D float32 array as the bytes of a NumPy .npy file
// (format version 1.0), so `numpy.load(path)` returns an array of dtype
// '<f4' and shape (rows, cols) holding exactly the given values.
//
// Layout: the magic "\x93NUMPY", version bytes 1 and 0, a little-endian
// uint16 header length, then the header
//   {'descr': '<f4', 'fortran_order': False, 'shape': (ROWS, COLS), }
// padded with spaces and ended by '\n' so that the data starts at a multiple
// of 64 bytes (numpy's own alignment), then rows * cols little-endian floats
// in row-major (C) order.
//
// Thread-safety: a pure function; call it from any number of threads.
// Errors: none.
// Cost: one copy of the data (4 bytes per value) plus a header of 64 or 128
// bytes.
#pragma once

#include <string>

namespace camserve {

// REQUIRES: rows >= 0, cols >= 0, and values points to rows * cols floats
// (may be null if either is 0).
std::string EncodeNpyFloat32(const float* values, int rows, int cols);

}  // namespace camserve
