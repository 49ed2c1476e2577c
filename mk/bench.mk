# Benchmark: build/bin/tslab-bench (the driver) and one worker per allocator,
# build/bin/bench_worker_<name>, all from the same sources (bench/worker.h).
# `make bench-build` builds them; `make bench` builds and runs the driver
# (BENCH_ARGS passes options, e.g. BENCH_ARGS="--quick"), which prints the
# tables and writes bench/results/latest.csv and latest.md.
# The workers are not part of `all`: see bench/README.md.

BENCH_COMMON_OBJS := $(OBJ)/bench/worker_main.o $(OBJ)/bench/tsc.o $(OBJ)/bench/proc.o
BENCH_DRIVER_OBJS := $(OBJ)/bench/driver.o $(OBJ)/bench/runner.o \
  $(OBJ)/bench/report.o $(OBJ)/bench/snapshot_bench.o
BENCH_WORKERS := glibc jemalloc tcmalloc mimalloc tslab tslab_nostats tslab_nousdt

# worker_backend.cc, once per backend (glibc, jemalloc and tcmalloc share
# the malloc one: the link line decides whose malloc it calls).
define bench_backend_obj
$$(OBJ)/bench/backend_$(1).o: bench/worker_backend.cc | deps-check
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  CXX     $$< ($(1))")
	$$(Q)$$(CXX) $$(CPPFLAGS) $$(CXXFLAGS) -DTSLAB_BENCH_BACKEND_$(2) -c $$< -o $$@
endef
$(eval $(call bench_backend_obj,malloc,MALLOC))
$(eval $(call bench_backend_obj,mimalloc,MIMALLOC))
$(eval $(call bench_backend_obj,tslab,TSLAB))

# $(1): worker name, $(2): backend object, $(3): libraries (and their
# prerequisites). --no-as-needed keeps a malloc-replacing library linked.
define bench_worker
$$(BIN)/bench_worker_$(1): $$(BENCH_COMMON_OBJS) $$(OBJ)/bench/backend_$(2).o $(filter %.a,$(3))
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CXX) $$(LDFLAGS) -o $$@ $$(BENCH_COMMON_OBJS) $$(OBJ)/bench/backend_$(2).o \
	  -Wl,--no-as-needed $(3) -Wl,--as-needed -ldl -lpthread
endef
$(eval $(call bench_worker,glibc,malloc,))
$(eval $(call bench_worker,jemalloc,malloc,-ljemalloc))
$(eval $(call bench_worker,tcmalloc,malloc,-ltcmalloc_minimal))
$(eval $(call bench_worker,mimalloc,mimalloc,-lmimalloc))
$(eval $(call bench_worker,tslab,tslab,$(LIBDIR)/libtslab.a))
$(eval $(call bench_worker,tslab_nostats,tslab,$(LIBDIR)/libtslab_nostats.a))
$(eval $(call bench_worker,tslab_nousdt,tslab,$(LIBDIR)/libtslab_nousdt.a))

# The driver links libtslab.a only for tslab_region_snapshot() (the
# snapshot-latency measurement); it never allocates through it.
$(BIN)/tslab-bench: $(BENCH_DRIVER_OBJS) $(OBJ)/bench/tsc.o $(LIBTSLAB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(BENCH_DRIVER_OBJS) $(OBJ)/bench/tsc.o $(TSLAB_LDLIBS)

.PHONY: bench-build
bench-build: $(BIN)/tslab-bench $(patsubst %,$(BIN)/bench_worker_%,$(BENCH_WORKERS))

bench: bench-build
	$(Q)$(BIN)/tslab-bench --bin-dir $(BIN) --csv bench/results/latest.csv \
	  --md bench/results/latest.md \
	  --label "commit $$(git describe --always --dirty 2>/dev/null || echo unknown)" $(BENCH_ARGS)
