# Benchmark: build/bin/tslab-bench (the driver) and one worker per allocator,
# build/bin/bench_worker_<name>, all from the same sources (bench/worker.h).
# `make bench-build` builds them; `make bench` builds and runs the driver
# (BENCH_ARGS passes options, e.g. BENCH_ARGS="--quick"), which prints the
# tables and writes bench/results/latest.csv and latest.md.
# The workers are not part of `all`: see bench/README.md.
# Then build/bin/tslab-exporter-bench (mk/exporter.mk) prices a scrape of
# 100 processes by tslab-exporter; it writes bench/results/exporter-latest.md.
#
# The tracing costs (bench/usdt_cost.h) also need tslab-demo, tslab-trace,
# build/bin/bench_usdt_loop (a tight loop over one probe) and the baseline
# BPF program bpf/bench_empty_uprobe.bpf.c, built here with mk/trace.mk's
# flags into build/obj/bpf/ and its skeleton build/gen/*.skel.h.

BENCH_COMMON_OBJS := $(OBJ)/bench/worker_main.o $(OBJ)/bench/tsc.o $(OBJ)/bench/proc.o
BENCH_DRIVER_OBJS := $(OBJ)/bench/driver.o $(OBJ)/bench/runner.o \
  $(OBJ)/bench/report.o $(OBJ)/bench/targets.o $(OBJ)/bench/snapshot_bench.o \
  $(OBJ)/bench/usdt_cost.o
BENCH_WORKERS := glibc jemalloc tcmalloc mimalloc tslab tslab_nostats tslab_nousdt

# worker_backend.cc, once per backend (glibc, jemalloc and tcmalloc share
# the malloc one: the link line decides whose malloc it calls).
define bench_backend_obj
$$(OBJ)/bench/backend_$(1).o: bench/worker_backend.cc | build-check
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

# The empty uprobe program (the baseline of the cost per probe hit). GEN,
# BPF_CFLAGS and LIBBPF_LIBS are mk/trace.mk's (included after this file:
# used in recipes only, or spelled out here).
BENCH_EMPTY_BPF_O := $(OBJ)/bpf/bench_empty_uprobe.bpf.o
BENCH_EMPTY_SKEL := $(BUILD)/gen/bench_empty_uprobe.skel.h
$(BENCH_EMPTY_BPF_O): bpf/bench_empty_uprobe.bpf.c $(BUILD)/gen/vmlinux.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BENCH_EMPTY_SKEL): $(BENCH_EMPTY_BPF_O)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name bench_empty_uprobe_bpf > $@.tmp && mv $@.tmp $@
$(OBJ)/bench/usdt_cost.o: $(BENCH_EMPTY_SKEL)

$(BIN)/bench_usdt_loop: $(OBJ)/bench/usdt_loop.o $(LIBTSLAB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(OBJ)/bench/usdt_loop.o $(TSLAB_LDLIBS)

# The driver links libtslab.a only for tslab_region_snapshot() (the
# snapshot-latency measurement); it never allocates through it. libbpf and
# tslab-trace's ELF note reader: the bare uprobe of the tracing costs;
# stats_dump's reader (libtslab_tools.a) with the tracer library
# (libtslab_trace.a): the doctor's tracer, priced per probe hit. Both are
# spelled out: mk/stats_dump.mk and mk/trace.mk are included after this file.
# proc.o: the epoch workload's RssAnon, read from /proc/PID/status.
BENCH_ELF_PROBES_OBJ := $(OBJ)/tools/tslab-trace/elf_probes.o
BENCH_DRIVER_SHARED := $(OBJ)/bench/tsc.o $(OBJ)/bench/proc.o
BENCH_TOOL_LIBS := $(LIBDIR)/libtslab_tools.a $(LIBDIR)/libtslab_trace.a
$(BIN)/tslab-bench: $(BENCH_DRIVER_OBJS) $(BENCH_DRIVER_SHARED) $(BENCH_ELF_PROBES_OBJ) \
  $(BENCH_TOOL_LIBS) $(LIBTSLAB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(BENCH_DRIVER_OBJS) $(BENCH_DRIVER_SHARED) $(BENCH_ELF_PROBES_OBJ) \
	  $(BENCH_TOOL_LIBS) $(TEST_SUPPORT_A) $(TSLAB_LDLIBS) $(LIBBPF_LIBS) -lyaml-cpp

.PHONY: bench-build
bench-build: $(BIN)/tslab-bench $(patsubst %,$(BIN)/bench_worker_%,$(BENCH_WORKERS)) \
  $(BIN)/bench_usdt_loop $(BIN)/tslab-demo $(BIN)/tslab-trace

bench: bench-build
	$(Q)$(BIN)/tslab-bench --bin-dir $(BIN) --csv bench/results/latest.csv \
	  --md bench/results/latest.md \
	  --label "commit $$(git describe --always --dirty 2>/dev/null || echo unknown)" $(BENCH_ARGS)
	$(Q)$(BIN)/tslab-exporter-bench --bin-dir $(BIN) --md bench/results/exporter-latest.md \
	  $(EXPORTER_BENCH_ARGS)
