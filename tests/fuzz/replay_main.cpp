// Replays a seed corpus through a fuzz target without libFuzzer, so that the
// targets' invariants run under gcc in every CI build (ctest label "fuzz").
// Usage: replay DIR|FILE...  Exit 0 when every input returned; a violated
// invariant aborts.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {
bool run_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  std::string bytes;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) bytes.append(buf, n);
  std::fclose(f);
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    struct stat st {};
    if (::stat(argv[i], &st) != 0) {
      std::fprintf(stderr, "replay: %s does not exist\n", argv[i]);
      return 1;
    }
    std::vector<std::string> files;
    if (S_ISDIR(st.st_mode)) {
      DIR* d = ::opendir(argv[i]);
      if (d == nullptr) return 1;
      while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        files.push_back(std::string(argv[i]) + "/" + e->d_name);
      }
      ::closedir(d);
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(argv[i]);
    }
    for (const auto& f : files) {
      if (!run_file(f)) return 1;
      ++count;
    }
  }
  // Also the empty input, which every target must handle.
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(""), 0);
  std::printf("replay: %zu inputs ok\n", count);
  return count == 0 ? 1 : 0;
}
