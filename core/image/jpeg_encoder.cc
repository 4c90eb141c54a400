#include "core/image/jpeg_encoder.h"
