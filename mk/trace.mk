# tslab-trace (issue 4): BPF programs (bpf/), their skeleton, the C++ tool
# (tools/tslab-trace/), and a test target for the probe tests.
#
#   build/gen/vmlinux.h            bpftool btf dump of the running kernel
#   build/obj/bpf/*.bpf.o          clang -target bpf (CO-RE)
#   build/gen/tslab_trace.skel.h   bpftool gen skeleton
#   build/bin/tslab-trace
#   build/bin/tests/tslab-demo-dyn   tslab-demo linked with libtslab.so

GEN := $(BUILD)/gen
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
  -I$(GEN) -I$(TOP) -idirafter /usr/include/x86_64-linux-gnu
LIBBPF_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz

# vmlinux.h only changes with the kernel; regenerate by deleting it.
$(GEN)/vmlinux.h: | build-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

# The BPF objects are built without -MMD: their headers are listed here.
$(OBJ)/bpf/%.bpf.o: bpf/%.bpf.c bpf/tslab_trace.h src/usdt/tslab_probes.h $(GEN)/vmlinux.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(GEN)/%.skel.h: $(OBJ)/bpf/%.bpf.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

TRACE_SRCS := $(wildcard tools/tslab-trace/*.cc)
TRACE_OBJS := $(patsubst %.cc,$(OBJ)/%.o,$(TRACE_SRCS))
# Everything but main.cc is build/lib/libtslab_trace.a, the loader (checks,
# targets, tracer, symboliser) that tslab-trace and stats_dump --doctor
# --trace both link: compiled once, never copied.
TRACE_LIB_OBJS := $(filter-out $(OBJ)/tools/tslab-trace/main.o,$(TRACE_OBJS))
TRACE_LIB_A := $(LIBDIR)/libtslab_trace.a
TRACE_LDLIBS := $(TRACE_LIB_A) $(LIBBPF_LIBS)
# Only the tracer includes the skeleton, but generating it first keeps
# the dependency simple and correct on a clean build.
$(TRACE_OBJS): | $(GEN)/tslab_trace.skel.h
$(OBJ)/tools/tslab-trace/tracer.o: $(GEN)/tslab_trace.skel.h

$(TRACE_LIB_A): $(TRACE_LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN)/tslab-trace: $(OBJ)/tools/tslab-trace/main.o $(TRACE_LIB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(OBJ)/tools/tslab-trace/main.o $(TRACE_LDLIBS)

# stats_dump --doctor --trace (tools/stats_dump/doctor_trace.cc) attaches
# with the same library (the recipe is in mk/stats_dump.mk).
$(BIN)/stats_dump: $(TRACE_LIB_A)
STATS_DUMP_EXTRA_LDLIBS += $(TRACE_LDLIBS)
$(OBJ)/tools/stats_dump/doctor_trace.o: | $(GEN)/tslab_trace.skel.h

# tslab-demo linked with libtslab.so instead of libtslab.a: the tests'
# target whose probes are in a library found through /proc/PID/maps (not a
# test itself: run_tests.sh runs only *_test). DEMO_OBJS: mk/demo.mk.
$(BIN)/tests/tslab-demo-dyn: $(DEMO_OBJS) $(LIBTSLAB_SO)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(DEMO_OBJS) -L$(LIBDIR) -ltslab \
	  -Wl,-rpath,'$$ORIGIN/../../lib' -lpthread

# The probe tests read ELF notes and process maps with the tool's code.
ELF_PROBES_OBJ := $(OBJ)/tools/tslab-trace/elf_probes.o
TEST_EXTRA_OBJS_usdt_notes_test := $(ELF_PROBES_OBJ)
TEST_LDLIBS_usdt_notes_test := -lelf
# It reads libtslab_nousdt.a's notes (there must be none), a variant plain
# `make` does not build: the tests build it.
tests: $(LIBDIR)/libtslab_nousdt.a
TEST_EXTRA_OBJS_tslab_trace_test := $(ELF_PROBES_OBJ) $(OBJ)/tools/tslab-trace/report.o
TEST_LDLIBS_tslab_trace_test := -lelf
TEST_EXTRA_OBJS_bpftrace_test := $(ELF_PROBES_OBJ)
TEST_LDLIBS_bpftrace_test := -lelf
TEST_EXTRA_OBJS_tslab_trace_detach_test := $(ELF_PROBES_OBJ)
TEST_LDLIBS_tslab_trace_detach_test := -lelf
TEST_EXTRA_OBJS_tslab_trace_errors_test := $(ELF_PROBES_OBJ)
TEST_LDLIBS_tslab_trace_errors_test := -lelf
TEST_EXTRA_OBJS_doctor_trace_test := $(ELF_PROBES_OBJ)
TEST_LDLIBS_doctor_trace_test := -lelf

.PHONY: trace
trace: $(BIN)/tslab-trace
all: trace
tests: $(BIN)/tests/tslab-demo-dyn

# The tests that run tslab-demo-dyn copy libtslab.so under its soname.
$(OBJ)/tests/tslab_trace_test.o $(OBJ)/tests/tslab_trace_detach_test.o: \
  EXTRA_CXXFLAGS += -DTSLAB_SONAME='"libtslab.so.$(TSLAB_VERSION_MAJOR)"'

# The probe tests read docs/ from the source tree.
$(OBJ)/tests/usdt_notes_test.o $(OBJ)/tests/tslab_trace_test.o \
$(OBJ)/tests/bpftrace_test.o: EXTRA_CXXFLAGS += -DTSLAB_SOURCE_DIR='"$(TOP)"'

# make demo (mk/demo.mk, examples/run_demo.sh) shows tslab-trace too.
demo: $(BIN)/tslab-trace

# --version (mk/version.mk).
$(OBJ)/tools/tslab-trace/main.o: EXTRA_CXXFLAGS += $(TOOL_VERSION_FLAGS)
