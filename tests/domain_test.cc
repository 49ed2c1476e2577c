// Epoch domains, through the C functions and the C++ RAII guard:
// enter/exit reference counts, auto-close on the last exit (of the
// epoch's last domain inside a scope), exit without
// enter refused, and a stale domain (its slot reopened since) refused.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "tests/test_util.h"
#include "tslab/tslab.h"
#include "tslab/tslab.hpp"

namespace tslab::test {
namespace {

struct DomainCloser {
  void operator()(tslab_domain* d) const { tslab_domain_destroy(d); }
};
using DomainPtr = std::unique_ptr<tslab_domain, DomainCloser>;

class Domains : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(a_, nullptr); }
  tslab_allocator* a() { return a_.get(); }
  tslab_epoch_state State(tslab_epoch_id e) {
    return tslab_epoch_get_state(a(), e);
  }
  uint64_t Closes() { return TakeSnapshot(a()).global.epoch_closes; }
  // Closes e, then advances the ring until e has been reopened.
  void CloseAndReopen(tslab_epoch_id e) {
    ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
    while (tslab_epoch_advance(a()) != e) {
    }
    ASSERT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  }

  AllocatorPtr a_ = MakeAllocator();
};

TEST_F(Domains, BadArguments) {
  EXPECT_EQ(tslab_domain_create(nullptr, true), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_domain_wrap(nullptr, 0, true), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_domain_wrap(a(), TSLAB_NUM_EPOCHS, true), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_EPOCH_RANGE);
  EXPECT_EQ(tslab_domain_enter(nullptr), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_domain_exit(nullptr), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_domain_close(nullptr), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_domain_epoch(nullptr), TSLAB_INVALID_EPOCH);
  EXPECT_EQ(tslab_domain_refcount(nullptr), 0u);
  tslab_domain_destroy(nullptr);  // a no-op
  EXPECT_EQ(Closes(), 0u);
}

// Two auto-close domains over one epoch: the first to exit leaves it open
// for the other (which is still inside a scope of it); the last one's exit
// closes it. The epoch's refcount counts the domains inside a scope.
TEST_F(Domains, AutoCloseWaitsForTheEpochsLastDomain) {
  const tslab_epoch_id e = tslab_epoch_advance(a());
  DomainPtr outer(tslab_domain_create(a(), true));
  DomainPtr inner(tslab_domain_create(a(), true));
  ASSERT_EQ(tslab_domain_enter(outer.get()), TSLAB_OK);
  ASSERT_EQ(tslab_domain_enter(inner.get()), TSLAB_OK);
  EXPECT_EQ(TakeSnapshot(a()).epochs[e].refcount, 2u);
  ASSERT_EQ(tslab_domain_exit(inner.get()), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  EXPECT_EQ(Closes(), 0u);
  EXPECT_EQ(TakeSnapshot(a()).epochs[e].refcount, 1u);
  void* p = tslab_malloc(a(), 64, e);
  EXPECT_NE(p, nullptr);
  ASSERT_EQ(tslab_domain_exit(outer.get()), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_CLOSING);
  EXPECT_EQ(Closes(), 1u);
  EXPECT_EQ(TakeSnapshot(a()).epochs[e].refcount, 0u);
  EXPECT_EQ(tslab_free(a(), p), TSLAB_OK);
}

TEST_F(Domains, CreateBindsToTheCurrentEpoch) {
  tslab_epoch_id e = tslab_epoch_advance(a());
  e = tslab_epoch_advance(a());
  DomainPtr d(tslab_domain_create(a(), false));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(tslab_domain_epoch(d.get()), e);
  EXPECT_EQ(tslab_domain_refcount(d.get()), 0u);
  DomainPtr w(tslab_domain_wrap(a(), 11, false));
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(tslab_domain_epoch(w.get()), 11u);
}

TEST_F(Domains, RefcountNestsAndAutoClosesOnLastExit) {
  const tslab_epoch_id e = tslab_epoch_current(a());
  DomainPtr d(tslab_domain_create(a(), true));
  ASSERT_NE(d, nullptr);
  void* p = nullptr;
  const int depth = 4;
  for (int i = 1; i <= depth; ++i) {
    ASSERT_EQ(tslab_domain_enter(d.get()), TSLAB_OK);
    EXPECT_EQ(tslab_domain_refcount(d.get()), uint32_t(i));
  }
  p = tslab_malloc(a(), 128, tslab_domain_epoch(d.get()));
  ASSERT_NE(p, nullptr);
  for (int i = depth - 1; i >= 1; --i) {
    ASSERT_EQ(tslab_domain_exit(d.get()), TSLAB_OK);
    EXPECT_EQ(tslab_domain_refcount(d.get()), uint32_t(i));
    EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE) << "closed before the last exit";
  }
  EXPECT_EQ(Closes(), 0u);
  ASSERT_EQ(tslab_domain_exit(d.get()), TSLAB_OK);
  EXPECT_EQ(tslab_domain_refcount(d.get()), 0u);
  EXPECT_EQ(State(e), TSLAB_EPOCH_CLOSING);  // p is still live
  EXPECT_EQ(Closes(), 1u);
  EXPECT_EQ(tslab_malloc(a(), 128, e), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_EPOCH_CLOSED);
  ASSERT_EQ(tslab_free(a(), p), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_DRAINED);
}

TEST_F(Domains, WithoutAutoCloseTheLastExitLeavesTheEpochOpen) {
  const tslab_epoch_id e = tslab_epoch_current(a());
  DomainPtr d(tslab_domain_wrap(a(), e, false));
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(tslab_domain_enter(d.get()), TSLAB_OK);
  ASSERT_EQ(tslab_domain_exit(d.get()), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  EXPECT_EQ(Closes(), 0u);
  // An explicit close does close it.
  ASSERT_EQ(tslab_domain_close(d.get()), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_DRAINED);
  EXPECT_EQ(Closes(), 1u);
}

TEST_F(Domains, ExitWithoutEnterIsRefused) {
  const tslab_epoch_id e = tslab_epoch_current(a());
  DomainPtr d(tslab_domain_create(a(), true));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(tslab_domain_exit(d.get()), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_domain_refcount(d.get()), 0u);
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE) << "a refused exit closed the epoch";
  // One enter, two exits: the second is refused and closes nothing more.
  ASSERT_EQ(tslab_domain_enter(d.get()), TSLAB_OK);
  ASSERT_EQ(tslab_domain_exit(d.get()), TSLAB_OK);
  EXPECT_EQ(Closes(), 1u);
  EXPECT_EQ(tslab_domain_exit(d.get()), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_domain_refcount(d.get()), 0u);
  EXPECT_EQ(Closes(), 1u);
}

// The domain's slot was closed and reopened by the ring: closing through
// the domain would close someone else's lifetime, so it is refused.
TEST_F(Domains, StaleDomainIsRefused) {
  const tslab_epoch_id e = tslab_epoch_advance(a());
  void* p = tslab_malloc(a(), 64, e);  // keeps e CLOSING until freed
  ASSERT_NE(p, nullptr);
  DomainPtr d(tslab_domain_create(a(), true));
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(tslab_domain_enter(d.get()), TSLAB_OK);
  CloseAndReopen(e);
  const uint64_t closes = Closes();
  EXPECT_EQ(tslab_domain_close(d.get()), TSLAB_E_STALE_DOMAIN);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_STALE_DOMAIN);
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  // The auto-close of the last exit is refused the same way.
  EXPECT_EQ(tslab_domain_exit(d.get()), TSLAB_E_STALE_DOMAIN);
  EXPECT_EQ(tslab_domain_refcount(d.get()), 0u);
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  EXPECT_EQ(Closes(), closes);
  // The old object is still the old life's, freeable.
  EXPECT_EQ(tslab_free(a(), p), TSLAB_OK);
  // A domain made now is bound to the new life and closes it.
  DomainPtr fresh(tslab_domain_wrap(a(), e, true));
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(tslab_domain_close(fresh.get()), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_DRAINED);
}

// Reopened from DRAINED (not only from CLOSING) is stale too.
TEST_F(Domains, DomainOfADrainedAndReopenedSlotIsStale) {
  const tslab_epoch_id e = tslab_epoch_advance(a());
  DomainPtr d(tslab_domain_create(a(), false));
  ASSERT_NE(d, nullptr);
  CloseAndReopen(e);  // nothing allocated: DRAINED, then reopened
  EXPECT_EQ(tslab_domain_close(d.get()), TSLAB_E_STALE_DOMAIN);
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
}

// A domain made before its slot was ever opened belongs to the slot's
// first life: it closes that life, and is stale once the ring reopened it.
TEST_F(Domains, DomainOfANeverOpenedSlot) {
  const tslab_epoch_id e = 5;
  ASSERT_EQ(State(e), TSLAB_EPOCH_IDLE);
  DomainPtr first(tslab_domain_wrap(a(), e, true));
  DomainPtr unopened(tslab_domain_wrap(a(), e, false));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(unopened, nullptr);
  ASSERT_EQ(tslab_domain_enter(first.get()), TSLAB_OK);
  void* p = tslab_malloc(a(), 64, e);  // opens the slot: its first life
  ASSERT_NE(p, nullptr);
  CloseAndReopen(e);
  EXPECT_EQ(tslab_domain_exit(first.get()), TSLAB_E_STALE_DOMAIN);
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE) << "closed the second life";
  EXPECT_EQ(tslab_domain_close(unopened.get()), TSLAB_E_STALE_DOMAIN);
  EXPECT_EQ(tslab_free(a(), p), TSLAB_OK);

  // Closed while still unopened: allowed, the slot drains.
  DomainPtr idle(tslab_domain_wrap(a(), 9, false));
  ASSERT_NE(idle, nullptr);
  ASSERT_EQ(State(9), TSLAB_EPOCH_IDLE);
  EXPECT_EQ(tslab_domain_close(idle.get()), TSLAB_OK);
  EXPECT_EQ(State(9), TSLAB_EPOCH_DRAINED);
}

// Enter and exit from several threads; the epoch closes exactly once,
// after the last exit.
TEST_F(Domains, ConcurrentEnterExitClosesOnce) {
  const tslab_epoch_id e = tslab_epoch_advance(a());
  DomainPtr d(tslab_domain_create(a(), true));
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(tslab_domain_enter(d.get()), TSLAB_OK);  // held by the test
  constexpr int kThreads = 4, kLoops = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kLoops; ++i) {
        EXPECT_EQ(tslab_domain_enter(d.get()), TSLAB_OK);
        void* p = tslab_malloc(a(), 96, e);
        EXPECT_NE(p, nullptr);
        EXPECT_EQ(tslab_free(a(), p), TSLAB_OK);
        EXPECT_EQ(tslab_domain_exit(d.get()), TSLAB_OK);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(tslab_domain_refcount(d.get()), 1u);
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  EXPECT_EQ(Closes(), 0u);
  ASSERT_EQ(tslab_domain_exit(d.get()), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_DRAINED);
  EXPECT_EQ(Closes(), 1u);
  ExpectQuiescentInvariants(a());
}

// ---- the C++ API: Domain and DomainGuard ----

class CppDomains : public ::testing::Test {
 protected:
  tslab::Allocator alloc_{tslab::Options().RegionOff()};
};

TEST_F(CppDomains, GuardEntersAndItsScopeEndAutoCloses) {
  ASSERT_TRUE(alloc_.ok());
  tslab::Domain d = alloc_.NewDomain(/*auto_close=*/true);
  ASSERT_TRUE(d.ok());
  const tslab::EpochId e = d.epoch();
  EXPECT_EQ(e, alloc_.CurrentEpoch());
  void* p = nullptr;
  {
    tslab::DomainGuard outer(d);
    EXPECT_EQ(outer.status(), tslab::Status::kOk);
    EXPECT_EQ(outer.epoch(), e);
    EXPECT_EQ(d.refcount(), 1u);
    {
      tslab::DomainGuard inner(d);
      EXPECT_EQ(d.refcount(), 2u);
      p = alloc_.Malloc(64, inner.epoch());
      ASSERT_NE(p, nullptr);
    }
    EXPECT_EQ(d.refcount(), 1u);
    EXPECT_EQ(alloc_.EpochState(e), TSLAB_EPOCH_ACTIVE);
  }
  EXPECT_EQ(d.refcount(), 0u);
  EXPECT_EQ(alloc_.EpochState(e), TSLAB_EPOCH_CLOSING);
  EXPECT_EQ(alloc_.Malloc(64, e), nullptr);
  EXPECT_EQ(tslab::LastError(), tslab::Status::kEpochClosed);
  EXPECT_EQ(alloc_.Free(p), tslab::Status::kOk);
  EXPECT_EQ(alloc_.EpochState(e), TSLAB_EPOCH_DRAINED);
}

TEST_F(CppDomains, GuardOnAnEmptyDomainDoesNothing) {
  tslab::Domain none;
  EXPECT_FALSE(none.ok());
  {
    tslab::DomainGuard g(none);
    EXPECT_EQ(g.status(), tslab::Status::kInvalidArg);
    EXPECT_EQ(g.epoch(), TSLAB_INVALID_EPOCH);
  }
  EXPECT_EQ(none.Exit(), tslab::Status::kInvalidArg);
  EXPECT_EQ(none.Close(), tslab::Status::kInvalidArg);
  SlabGlobalStats g;
  ASSERT_EQ(alloc_.GlobalStats(&g), tslab::Status::kOk);
  EXPECT_EQ(g.epoch_closes, 0u);
}

TEST_F(CppDomains, WrapMoveAndStale) {
  const tslab::EpochId e = alloc_.AdvanceEpoch();
  tslab::Domain d = alloc_.WrapEpoch(e, /*auto_close=*/false);
  ASSERT_TRUE(d.ok());
  tslab::Domain moved = std::move(d);
  EXPECT_FALSE(d.ok());  // NOLINT: checking the moved-from state
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved.epoch(), e);
  EXPECT_EQ(moved.Exit(), tslab::Status::kInvalidArg);  // never entered
  {
    tslab::DomainGuard g(moved);
    EXPECT_EQ(g.status(), tslab::Status::kOk);
  }
  EXPECT_EQ(alloc_.EpochState(e), TSLAB_EPOCH_ACTIVE);  // no auto-close
  EXPECT_EQ(alloc_.CloseEpoch(e), tslab::Status::kOk);
  while (alloc_.AdvanceEpoch() != e) {
  }
  EXPECT_EQ(moved.Close(), tslab::Status::kStaleDomain);
  EXPECT_EQ(alloc_.EpochState(e), TSLAB_EPOCH_ACTIVE);
  EXPECT_EQ(alloc_.WrapEpoch(TSLAB_NUM_EPOCHS, true).ok(), false);
  EXPECT_EQ(tslab::LastError(), tslab::Status::kEpochRange);
}

}  // namespace
}  // namespace tslab::test
