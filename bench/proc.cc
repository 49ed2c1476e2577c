// RSS of the calling process (see proc.h).
#include "bench/proc.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

namespace tslab::bench {

uint64_t RssBytes() {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char* end = nullptr;
  std::strtoull(buf, &end, 10);  // size; resident follows
  unsigned long long resident = std::strtoull(end, nullptr, 10);
  long ps = sysconf(_SC_PAGESIZE);
  return resident * static_cast<uint64_t>(ps > 0 ? ps : 4096);
}

}  // namespace tslab::bench
