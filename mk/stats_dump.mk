# stats_dump (build/bin/stats_dump): snapshots a running tslab process from
# outside through its stats region; JSON, text view, --doctor, --list, --gc.
# Links libtslab.a only for tslab_region_snapshot() (public API).
STATS_DUMP_SRCS := $(wildcard tools/stats_dump/*.cc)
STATS_DUMP_OBJS := $(patsubst %.cc,$(OBJ)/%.o,$(STATS_DUMP_SRCS))

$(BIN)/stats_dump: $(STATS_DUMP_OBJS) $(LIBTSLAB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(STATS_DUMP_OBJS) $(TSLAB_LDLIBS) -lyaml-cpp

all: $(BIN)/stats_dump

# tests/stats_fields_test checks the JSON of the counter lists through the
# tool's own function (no process), and the docs of the source tree.
TEST_EXTRA_OBJS_stats_fields_test := $(OBJ)/tools/stats_dump/snapshot_json.o \
  $(OBJ)/tools/stats_dump/label_text.o
$(OBJ)/tests/stats_fields_test.o: EXTRA_CXXFLAGS += -DTSLAB_SOURCE_DIR='"$(TOP)"'

# tests/doctor_rules_test: the doctor's rules on synthetic samples.
TEST_EXTRA_OBJS_doctor_rules_test := $(OBJ)/tools/stats_dump/doctor.o \
  $(OBJ)/tools/stats_dump/doctor_config.o $(OBJ)/tools/stats_dump/text_view.o \
  $(OBJ)/tools/stats_dump/label_text.o $(OBJ)/tools/stats_dump/snapshot_json.o
TEST_LDLIBS_doctor_rules_test := -lyaml-cpp
