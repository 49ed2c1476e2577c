// The fuzz input as a file: the parsers under test read paths (the tools
// open --config FILE, ELF files), so the bytes go into an in-memory file
// (memfd) reached through /proc/self/fd. Thread-safety: one per thread.
#ifndef TSLAB_FUZZ_MEM_FILE_H_
#define TSLAB_FUZZ_MEM_FILE_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace tslab::fuzz {

class MemFile {
 public:
  MemFile(const char* name, const uint8_t* data, size_t size)
      : fd_(memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ >= 0 && write(fd_, data, size) != static_cast<ssize_t>(size)) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~MemFile() {
    if (fd_ >= 0) close(fd_);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

}  // namespace tslab::fuzz

#endif  // TSLAB_FUZZ_MEM_FILE_H_
