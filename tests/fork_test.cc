// fork() from a process whose other threads are busy in tslab: the child
// must find every allocator lock free and every heap idle, and its
// allocators must keep working (tslab.h promises it). Real processes: the
// parent forks while 4 threads allocate, free, advance and close; each
// child runs a fixed script of calls under a watchdog.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/test_util.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

// What a child does, each step a distinct exit code on failure: the calls
// that take every kind of lock (the heap visit of a close, the class and
// arena locks of new slabs, advance_mu_, the allocator-id registry).
int ChildScript(tslab_allocator* shared) {
  const tslab_epoch_id e = tslab_epoch_advance(shared);
  if (e == TSLAB_INVALID_EPOCH) return 10;
  std::vector<void*> ptrs;
  for (int i = 0; i < 500; ++i) {
    void* p = tslab_malloc(shared, 64 + (i % 8) * 90, e);
    if (p == nullptr) return 11;
    ptrs.push_back(p);
  }
  for (void* p : ptrs) {
    if (tslab_free(shared, p) != TSLAB_OK) return 12;
  }
  tslab_epoch_advance(shared);
  if (tslab_epoch_close(shared, e) != TSLAB_OK) return 13;
  TslabSnapshot s;
  if (tslab_snapshot(shared, &s) != TSLAB_OK) return 14;
  tslab_options o = TestOptions();
  o.purge_delay_ms = 0;  // no purge thread in the child (TSan refuses it)
  tslab_allocator* fresh = tslab_create(&o);
  if (fresh == nullptr) return 15;
  void* q = tslab_malloc(fresh, 128, 0);
  if (q == nullptr || tslab_free(fresh, q) != TSLAB_OK) return 16;
  if (tslab_epoch_close(fresh, 0) != TSLAB_OK) return 17;
  tslab_destroy(fresh);
  return 0;
}

struct ForkOutcome {
  int ok = 0;
  int hung = 0;
  int failed = 0;
  int last_failure = 0;
};

// Forks `children` times while the workers run; a child still running
// after the watchdog's limit (20 s: the script takes milliseconds, but a
// loaded machine, a sanitizer build beside it, may stretch it) is
// killed and counted as hung. Stops after 3 hangs.
ForkOutcome ForkRepeatedly(tslab_allocator* a, int children) {
  ForkOutcome out;
  for (int i = 0; i < children && out.hung < 3; ++i) {
    const pid_t pid = fork();
    if (pid < 0) {
      ++out.failed;
      continue;
    }
    if (pid == 0) _exit(ChildScript(a));
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    pid_t r = 0;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ++out.hung;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      ++out.ok;
    } else {
      ++out.failed;
      out.last_failure = WIFEXITED(status) ? WEXITSTATUS(status)
                                           : 128 + WTERMSIG(status);
    }
  }
  return out;
}

void RunBusyForks(const tslab_options& o, int children) {
  AllocatorPtr a = MakeAllocator(o);
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      std::vector<void*> mine;
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const tslab_epoch_id e = tslab_epoch_current(a.get());
        for (int i = 0; i < 64; ++i) {
          void* p = tslab_malloc(a.get(), 64 + ((n + i) % 8) * 90, e);
          if (p != nullptr) mine.push_back(p);
        }
        // Frees of other epochs' objects are remote or recycle slabs.
        for (void* p : mine) (void)tslab_free(a.get(), p);
        mine.clear();
        if (t < 2 && ++n % 4 == 0) {
          const tslab_epoch_id old = tslab_epoch_current(a.get());
          tslab_epoch_advance(a.get());
          (void)tslab_epoch_close(a.get(), old);
        }
        if (t == 3 && n++ % 16 == 0) {
          tslab_options fo = TestOptions();
          tslab_destroy(tslab_create(&fo));  // the id registry's lock
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const ForkOutcome out = ForkRepeatedly(a.get(), children);
  stop.store(true);
  for (auto& w : workers) w.join();
  EXPECT_EQ(out.hung, 0) << out.hung << " of " << children
                         << " children hung (killed after 20 s; stops at 3)";
  EXPECT_EQ(out.failed, 0) << "last failing child's exit code "
                           << out.last_failure;
  EXPECT_EQ(out.ok, children);
  ExpectQuiescentInvariants(a.get());
}

TEST(Fork, ChildOfBusyThreadsKeepsWorking) {
  tslab_options o = TestOptions();
  o.purge_delay_ms = 0;
  RunBusyForks(o, 100);
}

// With a purge delay the parent also has a purge thread (its registry's
// lock, the class locks it takes, its condition variable), and the child
// starts its own at its first close.
TEST(Fork, ChildOfBusyThreadsKeepsWorkingWithPurgeDelay) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan does not support starting threads in the child of a "
                  "multi-threaded fork (the child's purge thread)";
#endif
  tslab_options o = TestOptions();
  o.purge_delay_ms = 1;
  RunBusyForks(o, 100);
}

}  // namespace
}  // namespace tslab::test
