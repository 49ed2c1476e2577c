// The file-backed part of StatsRegion: the region as a file that another
// process (stats_dump) maps read-only.
//
// Where: tslab_options.stats_dir, else $TSLAB_STATS_DIR (read with
// secure_getenv, so a setuid program ignores it), else /dev/shm/tslab.
// TSLAB_STATS_DIR=off (whatever the options say), a directory "off" or
// TSLAB_REGION_OFF mean anonymous memory. Any failure below also means
// anonymous memory: tslab_create never fails because of the file; with
// TSLAB_OPTIONS=verbose=1 (env_options.h) the failure is one line on stderr
// ("stats file could not be created in DIR: REASON; ...").
//
// File: <dir>/tslab-<pid>-<allocator id>-<nonce>.stats, where the nonce is
// 64 random bits. Nobody can predict the name, so nobody can squat it
// (pre-create it to make us fall back to anonymous memory), and two
// processes with the same pid in different PID namespaces that share the
// directory never collide (nor remove each other's files as leftovers).
// The pid in the name is a hint for readers; the header holds the truth
// (pid, PID namespace inode, start time) and a reader checks it against the
// process that maps the file (docs/stats_dump.md, "Region files").
//
// Creation: the file is built under a hidden name (".tslab-...", which no
// reader lists), mode 0600, O_CREAT|O_EXCL|O_NOFOLLOW, space reserved with
// posix_fallocate (so a full tmpfs fails here, not with SIGBUS on a counter
// write later), mapped MAP_SHARED|MAP_POPULATE (no page faults on the hot
// path), its header written (StatsRegion::Create), and only then renamed
// to its final name (PublishFile, RENAME_NOREPLACE). A reader never sees a
// region at 0 bytes or without its magic.
//
// The directory may be shared between users. It is used only if it is a
// real directory (not a symlink), owned by us or by root, and, if others
// may write to it, sticky (so nobody else can remove or replace our files).
// A missing default directory is created 01777 by root (shared, like /tmp);
// anyone else, when the default is missing or unusable (another user's
// private directory), uses /dev/shm/tslab-<uid> (created 0700), which
// readers of the default directory list too. A missing TSLAB_STATS_DIR is
// created 0700.
//
// Removal: on allocator destroy (UnlinkFile) and at normal process exit (an
// atexit handler unlinks every live region of the process). With
// TSLAB_OPTIONS=keep_stats=1 the exit handler instead marks each file
// TSLAB_REGION_STATE_EXITED (with the exit time) and leaves it: stats_dump
// -p PID reads the final numbers, --gc removes it. A file of an allocator
// destroyed before exit stays too (KeepFileAtDestroy: marked DESTROYED,
// then EXITED at exit), so a program that cleans up still leaves its
// numbers. A forked child
// gets private copies of the parent's regions (pthread_atfork), so it never
// writes into, nor removes, the parent's files. After exec the file stays
// until --gc: readers see that the process no longer maps it.
//
// Thread-safety: the registry of live file regions is guarded by one
// mutex; creation, destroy, exit and fork may race freely.
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <mutex>

#include "src/allocator/env_options.h"
#include "src/allocator/region.h"

namespace tslab::internal {

// Live file-backed regions of this process: an intrusive list through the
// StatsRegion objects (no allocation, nothing to destroy at exit).
struct RegionFileRegistry {
  static std::mutex& Mu() {
    static std::mutex mu;  // constant-initialised, trivially destroyed
    return mu;
  }
  static StatsRegion*& Head() {
    static StatsRegion* head = nullptr;
    return head;
  }
  // keep_stats=1: headers of destroyed allocators whose files (and
  // mappings) stay until exit, when they are marked EXITED too. A fixed
  // array (nothing allocated, nothing to destroy at exit); beyond it a
  // destroyed allocator's file goes as without keep_stats. Each costs its
  // region (~200 KiB of the stats directory's memory) until exit.
  static constexpr int kMaxKept = 64;
  static TslabRegionHeader** Kept() {
    static TslabRegionHeader* kept[kMaxKept] = {};
    return kept;
  }
  static int& KeptCount() {
    static int n = 0;
    return n;
  }
  // REQUIRES: Mu(). The exit time, then the state (release): a reader that
  // sees EXITED sees the counters as the exiting thread last knew them
  // (threads still running may add a few more: it is exit).
  static void MarkExited(TslabRegionHeader* h) {
    std::atomic_ref<uint64_t>(h->exit_realtime_ns)
        .store(RealtimeNs(), std::memory_order_relaxed);
    std::atomic_ref<uint32_t>(h->state)
        .store(TSLAB_REGION_STATE_EXITED, std::memory_order_release);
  }
  static bool& Exited() {  // the exit handler ran: make no more files
    static bool exited = false;
    return exited;
  }
  static pid_t& OwnerPid() {  // the process whose files these are
    static pid_t pid = 0;
    return pid;
  }

  // REQUIRES: Mu().
  static void Add(StatsRegion* r) {
    r->file_prev_ = nullptr;
    r->file_next_ = Head();
    if (Head()) Head()->file_prev_ = r;
    Head() = r;
    r->file_registered_ = true;
  }
  // REQUIRES: Mu().
  static void Remove(StatsRegion* r) {
    if (!r->file_registered_) return;
    if (r->file_prev_) r->file_prev_->file_next_ = r->file_next_;
    else Head() = r->file_next_;
    if (r->file_next_) r->file_next_->file_prev_ = r->file_prev_;
    r->file_next_ = r->file_prev_ = nullptr;
    r->file_registered_ = false;
  }
  static void OnExit() {
    std::lock_guard<std::mutex> lock(Mu());
    Exited() = true;
    if (OwnerPid() != getpid()) return;
    const bool keep = EnvOptions().keep_stats;
    while (StatsRegion* r = Head()) {
      if (keep && r->header_ != nullptr &&
          r->path_.find("/.tslab-") == std::string::npos) {
        // keep_stats=1: the file stays for stats_dump -p PID / --list.
        MarkExited(r->header_);
      } else {
        // Only the name goes: threads still running keep counting into
        // the mapping, which lives until the process does. (A file still
        // under its hidden build name goes too: it never had a header.)
        unlink(r->path_.c_str());
      }
      Remove(r);
    }
    for (int i = 0; i < KeptCount(); ++i) MarkExited(Kept()[i]);
    KeptCount() = 0;
  }

  static void Prepare() { Mu().lock(); }
  static void Parent() { Mu().unlock(); }
  // In the child (one thread): copy each region into private memory at the
  // same address, so the child's allocators keep working but no longer
  // write into the parent's files; forget the files.
  static void Child() {
    while (StatsRegion* r = Head()) {
      void* copy = mmap(nullptr, r->size_, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (copy != MAP_FAILED) {
        std::memcpy(copy, r->base_, r->size_);
        if (mremap(copy, r->size_, r->size_, MREMAP_MAYMOVE | MREMAP_FIXED,
                   r->base_) == MAP_FAILED) {
          munmap(copy, r->size_);
        } else {
          static_cast<TslabRegionHeader*>(r->base_)->pid = getpid();
        }
      }
      r->path_.clear();
      Remove(r);
    }
    KeptCount() = 0;  // the parent's files: never the child's to mark
    OwnerPid() = getpid();
    Mu().unlock();
  }

  static void InstallHandlersOnce() {
    // A function-local static, not std::call_once: call_once's helper
    // would be exported from libtslab.so (tests/symbols_test.cc).
    static const bool installed = [] {
      OwnerPid() = getpid();
      std::atexit(OnExit);
      pthread_atfork(Prepare, Parent, Child);
      return true;
    }();
    (void)installed;
  }
};

namespace {

constexpr const char* kDefaultDir = "/dev/shm/tslab";

// verbose=1: says why this process's counters are invisible to stats_dump.
void ReportFallback(const char* dir, const char* reason) {
  if (!EnvOptions().verbose) return;
  std::fprintf(stderr,
               "tslab: stats file could not be created in %s: %s; using anonymous memory "
               "(stats_dump cannot see this process)\n",
               dir, reason);
}

constexpr const char* kUnsafeDir =
    "not a safe directory (it must be a real directory owned by this user or root, "
    "and sticky if others may write to it)";

// Opens dir for use as the stats directory (creating it if missing), or
// returns -1 if it is missing and cannot be made (errno set), or unsafe
// (errno 0).
int OpenStatsDir(const char* dir, bool is_default) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  // Only root makes the default directory (shared): made by another user it
  // would be theirs, private, and every other user's stats would be lost.
  if (fd < 0 && errno == ENOENT && (!is_default || geteuid() == 0)) {
    const bool shared = is_default;
    if (mkdir(dir, 0700) == 0) {
      fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      // mkdir's mode is cut by the umask; set the sticky shared mode here.
      if (fd >= 0 && shared) fchmod(fd, 01777);
    } else if (errno == EEXIST) {  // another process made it meanwhile
      fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
  }
  if (fd < 0) return -1;  // includes ELOOP/ENOTDIR: a symlink is refused
  struct stat st;
  const bool safe =
      fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) &&
      (st.st_uid == geteuid() || st.st_uid == 0) &&
      ((st.st_mode & (S_IWGRP | S_IWOTH)) == 0 || (st.st_mode & S_ISVTX));
  if (!safe) {
    close(fd);
    errno = 0;
    return -1;
  }
  return fd;
}

// 64 bits nobody else can guess: getrandom, else (no entropy yet, very
// early boot) the clock, the pid and an address, which at least never
// repeat within this process.
uint64_t Nonce() {
  uint64_t v = 0;
  if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == sizeof(v)) return v;
  static std::atomic<uint64_t> counter{0};
  v = RealtimeNs() ^ (uint64_t(getpid()) << 40) ^
      reinterpret_cast<uintptr_t>(&v) ^ (counter.fetch_add(1) * 0x9e3779b97f4a7c15ull);
  return v;
}

}  // namespace

void* StatsRegion::MapFile(const RegionParams& params, size_t size) {
  path_.clear();
  if (params.mode == TSLAB_REGION_OFF) return nullptr;
  // The option overrides the environment, except that TSLAB_STATS_DIR=off
  // always wins: the operator's switch.
  const char* env = secure_getenv("TSLAB_STATS_DIR");
  if (env != nullptr && std::strcmp(env, "off") == 0) return nullptr;
  const char* dir = params.stats_dir;
  if (dir == nullptr || *dir == '\0') dir = env;
  const bool is_default = dir == nullptr || *dir == '\0';
  if (is_default) dir = kDefaultDir;
  if (std::strcmp(dir, "off") == 0) return nullptr;

  RegionFileRegistry::InstallHandlersOnce();
  {
    std::lock_guard<std::mutex> lock(RegionFileRegistry::Mu());
    if (RegionFileRegistry::Exited()) return nullptr;
  }
  int dfd = OpenStatsDir(dir, is_default);
  char own[64];
  if (dfd < 0 && is_default && geteuid() != 0) {
    // The shared default is missing or not ours to use (another user's
    // private directory): this user's own, next to it, which readers of
    // the default directory also list (docs/stats_dump.md).
    std::snprintf(own, sizeof(own), "%s-%u", kDefaultDir, static_cast<unsigned>(geteuid()));
    dir = own;
    dfd = OpenStatsDir(dir, false);
  }
  if (dfd < 0) {
    ReportFallback(dir, errno == 0 ? kUnsafeDir : std::strerror(errno));
    return nullptr;
  }

  const int pid = static_cast<int>(getpid());
  char name[96];
  int fd = -1;
  // A name taken (by chance, or by anything planted) is not ours: draw
  // another nonce. Nothing is ever removed here.
  for (int attempt = 0; attempt < 4 && fd < 0; ++attempt) {
    std::snprintf(name, sizeof(name), ".tslab-%d-%u-%016llx.stats", pid,
                  params.allocator_id, static_cast<unsigned long long>(Nonce()));
    fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    ReportFallback(dir, std::strerror(errno));
    close(dfd);
    return nullptr;
  }
  std::string full = std::string(dir) + "/" + name;
  void* base = MAP_FAILED;
  int err = 0;
  if (fchmod(fd, 0600) != 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) {
    err = errno;
  } else if (int rc = posix_fallocate(fd, 0, static_cast<off_t>(size)); rc != 0) {
    err = rc;  // posix_fallocate returns its error, errno untouched
  } else {
    base = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED) err = errno;
  }
  close(fd);
  if (base == MAP_FAILED) {
    ReportFallback(dir, std::strerror(err));
    unlinkat(dfd, name, 0);
    close(dfd);
    return nullptr;
  }
  close(dfd);
  std::lock_guard<std::mutex> lock(RegionFileRegistry::Mu());
  if (RegionFileRegistry::Exited()) {  // exit began while we built it
    unlink(full.c_str());
    munmap(base, size);
    return nullptr;
  }
  // Registered under the hidden name: exit and fork handle it like any
  // other until PublishFile renames it.
  path_ = std::move(full);
  base_ = base;  // Create() sets it too; the fork handler may need it first
  RegionFileRegistry::Add(this);
  return base;
}

bool StatsRegion::PublishFile() {
  std::lock_guard<std::mutex> lock(RegionFileRegistry::Mu());
  if (!file_registered_) return false;  // exit or fork took it meanwhile
  const size_t slash = path_.rfind('/');
  std::string final_path = path_;
  final_path.erase(slash + 1, 1);  // the leading '.'
  // RENAME_NOREPLACE: a file planted under the final name (it cannot be
  // guessed, but) is never replaced; tmpfs and every local file system
  // support it.
  if (renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, final_path.c_str(),
                RENAME_NOREPLACE) != 0) {
    unlink(path_.c_str());
    RegionFileRegistry::Remove(this);
    path_.clear();
    return false;
  }
  path_ = std::move(final_path);
  return true;
}

bool StatsRegion::KeepFileAtDestroy() {
  if (!EnvOptions().keep_stats) return false;
  std::lock_guard<std::mutex> lock(RegionFileRegistry::Mu());
  if (!file_registered_ || RegionFileRegistry::OwnerPid() != getpid() ||
      path_.find("/.tslab-") != std::string::npos ||
      RegionFileRegistry::KeptCount() >= RegionFileRegistry::kMaxKept) {
    return false;
  }
  RegionFileRegistry::Kept()[RegionFileRegistry::KeptCount()++] = header_;
  RegionFileRegistry::Remove(this);
  return true;
}

void StatsRegion::UnlinkFile() {
  std::lock_guard<std::mutex> lock(RegionFileRegistry::Mu());
  if (!file_registered_) return;  // anonymous, or the exit handler did it
  if (RegionFileRegistry::OwnerPid() == getpid()) unlink(path_.c_str());
  RegionFileRegistry::Remove(this);
}

}  // namespace tslab::internal
