# make soak: tests/soak/soak.cc, random API calls from SOAK_THREADS threads
# for SOAK_SECONDS (default 10 minutes; CI runs 60 s) with content checks,
# a reader process snapshotting the region every 10 ms and the invariants
# checked at every quiescent point. Prints the operations done and the
# violations; fails on any.
SOAK_SECONDS ?= 600
SOAK_THREADS ?= 4
SOAK_BIN := $(BIN)/tslab-soak

$(SOAK_BIN): $(OBJ)/tests/soak/soak.o $(LIBTSLAB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $< $(TSLAB_LDLIBS) -lpthread

.PHONY: soak
tests: $(SOAK_BIN)
soak: $(SOAK_BIN)
	$(Q)d=$$(mktemp -d /tmp/tslab-soak.XXXXXX) && \
	  TSLAB_STATS_DIR=$$d $(SOAK_BIN) --seconds $(SOAK_SECONDS) --threads $(SOAK_THREADS); \
	  rc=$$?; rm -rf $$d; exit $$rc
