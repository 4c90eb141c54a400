// Catch2 for test files that also include LibTorch.
//
// Debian's LibTorch is built with glog (C10_USE_GLOG): c10/util/Logging.h
// includes glog, whose CHECK macro silently replaces Catch's when it comes
// after catch2/catch.hpp (both are system headers, so the compiler does not
// warn). A failing CHECK then aborts the whole test binary with "Check
// failed" instead of failing one assertion, and the rest of its cases do
// not run. Including c10's logging header first lets catch.hpp define CHECK
// last. Include this header instead of catch2/catch.hpp in every test file
// or test header that includes LibTorch, before anything that may include
// either; tests/check_catch_assertions.py (ctest catch_assertion_checks)
// fails when a test file's CHECK is glog's.
#pragma once

#include <c10/util/Logging.h>

#include <catch2/catch.hpp>
