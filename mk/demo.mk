# tslab-demo (build/bin/tslab-demo): the request-processing simulation that
# stats_dump, --doctor and tslab-trace are shown and tested against.
# `make demo` (examples/run_demo.sh) builds, starts it, shows
# `stats_dump -p` and `stats_dump --doctor` against it, and stops it.
DEMO_SRCS := $(wildcard examples/tslab-demo/*.cc)
DEMO_OBJS := $(patsubst %.cc,$(OBJ)/%.o,$(DEMO_SRCS))

$(BIN)/tslab-demo: $(DEMO_OBJS) $(LIBTSLAB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(DEMO_OBJS) $(TSLAB_LDLIBS)

all: $(BIN)/tslab-demo

# The README's main-job command. deps-check installs missing packages
# (make deps) on a fresh machine; then build, run, show, stop.
demo: deps-check $(BIN)/tslab-demo $(BIN)/stats_dump
	$(Q)examples/run_demo.sh $(BIN)
