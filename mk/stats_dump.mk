# stats_dump (build/bin/stats_dump): snapshots a running tslab process from
# outside through its stats region; JSON, text view, --doctor, --list, --gc,
# --format openmetrics|prometheus.
# Links libtslab.a only for tslab_region_snapshot() (public API).
#
# Everything but main.cc is also build/lib/libtslab_tools.a, the reader
# that tslab-exporter (mk/exporter.mk) links: region finding and reading,
# the fleet collector, the doctor's rules and the exposition code are
# compiled once and shared, never copied.
STATS_DUMP_SRCS := $(wildcard tools/stats_dump/*.cc)
STATS_DUMP_OBJS := $(patsubst %.cc,$(OBJ)/%.o,$(STATS_DUMP_SRCS))
TOOLS_LIB_OBJS := $(filter-out $(OBJ)/tools/stats_dump/main.o,$(STATS_DUMP_OBJS))
TOOLS_LIB_A := $(LIBDIR)/libtslab_tools.a
# What a program links to use the reader (order matters for static libs).
TOOLS_LDLIBS := $(TOOLS_LIB_A) $(TSLAB_LDLIBS) -lyaml-cpp

$(TOOLS_LIB_A): $(TOOLS_LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN)/stats_dump: $(OBJ)/tools/stats_dump/main.o $(TOOLS_LIB_A) $(LIBTSLAB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(OBJ)/tools/stats_dump/main.o $(TOOLS_LDLIBS) \
	  $(STATS_DUMP_EXTRA_LDLIBS)

all: $(BIN)/stats_dump

# tests/stats_fields_test checks the JSON of the counter lists through the
# tool's own function (no process), and the docs of the source tree.
TEST_EXTRA_OBJS_stats_fields_test := $(OBJ)/tools/stats_dump/snapshot_json.o \
  $(OBJ)/tools/stats_dump/label_text.o
$(OBJ)/tests/stats_fields_test.o: EXTRA_CXXFLAGS += -DTSLAB_SOURCE_DIR='"$(TOP)"'

# tests/doctor_rules_test: the doctor's rules on synthetic samples.
TEST_EXTRA_OBJS_doctor_rules_test := $(TOOLS_LIB_A)
TEST_LDLIBS_doctor_rules_test := -lyaml-cpp
# tests/doctor_config_test: the config loader on YAML texts.
TEST_EXTRA_OBJS_doctor_config_test := $(TOOLS_LIB_A)
TEST_LDLIBS_doctor_config_test := -lyaml-cpp

# --version (mk/version.mk).
$(OBJ)/tools/stats_dump/main.o: EXTRA_CXXFLAGS += $(TOOL_VERSION_FLAGS)
