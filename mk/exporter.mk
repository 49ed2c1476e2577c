# tslab-exporter (build/bin/tslab-exporter, issue 8): the Prometheus
# exporter. Links the stats_dump reader (libtslab_tools.a, mk/stats_dump.mk)
# and Debian's cpp-httplib (a shared library in Debian 12: its pkg-config
# flags select the same TLS/zlib/brotli build the library was made with).
EXPORTER_SRCS := $(wildcard tools/tslab-exporter/*.cc)
EXPORTER_OBJS := $(patsubst %.cc,$(OBJ)/%.o,$(EXPORTER_SRCS))
HTTPLIB_CFLAGS := $(shell pkg-config --cflags cpp-httplib 2>/dev/null)
HTTPLIB_LIBS := $(shell pkg-config --libs cpp-httplib 2>/dev/null || echo -lcpp-httplib)

$(EXPORTER_OBJS): EXTRA_CXXFLAGS += $(HTTPLIB_CFLAGS)
$(OBJ)/tools/tslab-exporter/main.o: EXTRA_CXXFLAGS += $(TOOL_VERSION_FLAGS)

# (mk/stats_dump.mk is included after this file: its library by name.)
$(BIN)/tslab-exporter: $(EXPORTER_OBJS) $(LIBDIR)/libtslab_tools.a $(LIBTSLAB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(EXPORTER_OBJS) $(TOOLS_LDLIBS) $(HTTPLIB_LIBS) -lz -lpthread

all: $(BIN)/tslab-exporter

# The exporter's tests: exporter_test links the reader (exposition, fleet)
# for the unit tests of its pure parts; both use cpp-httplib's client and
# read docs/ and configs/ of the source tree.
TEST_EXTRA_OBJS_exporter_test := $(LIBDIR)/libtslab_tools.a
TEST_LDLIBS_exporter_test := -lyaml-cpp $(HTTPLIB_LIBS)
TEST_LDLIBS_exporter_prometheus_test := $(HTTPLIB_LIBS)
$(OBJ)/tests/exporter_test.o $(OBJ)/tests/exporter_prometheus_test.o: \
  EXTRA_CXXFLAGS += -DTSLAB_SOURCE_DIR='"$(TOP)"' $(HTTPLIB_CFLAGS)
# The tests run the exporter.
tests: $(BIN)/tslab-exporter

# The exporter's scrape cost (bench/exporter_bench.cc), run by `make bench`
# after tslab-bench (mk/bench.mk); EXPORTER_BENCH_ARGS passes options.
$(OBJ)/bench/exporter_bench.o: EXTRA_CXXFLAGS += $(HTTPLIB_CFLAGS)
$(BIN)/tslab-exporter-bench: $(OBJ)/bench/exporter_bench.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $< $(HTTPLIB_LIBS) -lpthread
bench-build: $(BIN)/tslab-exporter-bench $(BIN)/tslab-exporter $(BIN)/tslab-demo

# make demo (examples/run_demo.sh) shows the exporter's /metrics.
demo: $(BIN)/tslab-exporter
