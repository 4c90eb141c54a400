// Preloaded (LD_PRELOAD) into camserve by metrics_integration_tests: 128 KiB
// of thread-local storage, which glibc reserves on every thread's stack,
// reproduces what a threaded OpenBLAS (60 KiB) does on top of LibTorch's own:
// civetweb's 100 KiB thread stacks can no longer hold it.
thread_local char camserve_test_big_thread_local_buffer[128 * 1024];

extern "C" char* camserve_test_big_thread_local_address() { return camserve_test_big_thread_local_buffer; }
