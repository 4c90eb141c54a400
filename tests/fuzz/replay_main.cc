// Replays fuzz inputs through a target's LLVMFuzzerTestOneInput without
// libFuzzer, so that the normal (gcc) build runs every corpus file as a
// regression test: each argument is a file, or a directory whose regular
// files are replayed in name order. Exit 0 when every input ran (a crash
// ends the process as it would under the fuzzer), 1 when an argument could
// not be read.
//   image_decoder_fuzz_replay tests/fuzz/corpus/image_decoder
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool ReplayFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  // A copy of exactly the input's size, so that ASan sees reads past it.
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<uint8_t> data(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int replayed = 0;
  bool ok = argc > 1;
  for (int i = 1; i < argc; ++i) {
    std::error_code error;
    std::vector<fs::path> files;
    if (fs::is_directory(argv[i], error)) {
      for (const fs::directory_entry& entry : fs::directory_iterator(argv[i], error)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(argv[i]);
    }
    if (error) {
      std::fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], error.message().c_str());
      ok = false;
    }
    for (const fs::path& file : files) {
      ok = ReplayFile(file) && ok;
      ++replayed;
    }
  }
  std::printf("replay: %d input(s) ran%s\n", replayed, ok ? "" : ", some could not be read");
  return ok ? 0 : 1;
}
