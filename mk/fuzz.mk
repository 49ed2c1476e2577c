# Fuzzing: libFuzzer targets for the parsers of untrusted bytes (fuzz/):
# the stats region reader and stats_dump's renderers (region_fuzz), the
# doctor config loader (doctor_config_fuzz), tslab-trace's ELF/USDT note
# parser (elf_notes_fuzz). Built with clang, -fsanitize=fuzzer,address,
# undefined, into build/fuzz/ (the library and the tools' sources compiled
# again there, instrumented; never mixed with the other builds).
#
#   make fuzz [FUZZ_SECONDS=60]   build, then run each target that long;
#                                 fails on any crash, leak, hang (10 s) or
#                                 UBSan finding
#   make fuzz-build               build only
#
# Seeds: fuzz/corpus/<target>/ (in the repo) and build/fuzz/seeds/<target>/
# (made here: the mode byte of a real region image, the shipped doctor
# config, small ELF objects, a .so and an archive with tslab notes).
# New inputs go to build/fuzz/corpus/<target>/, a failing one to
# build/fuzz/crash-<target>-*; reproduce with build/fuzz/<target> FILE.
FUZZ_DIR := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_CXX ?= clang++
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CXXFLAGS := -std=c++20 -O1 -g -fno-omit-frame-pointer $(WARN) \
  -I$(TOP) -I$(TOP)/include $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP
FUZZ_TARGETS := region_fuzz doctor_config_fuzz elf_notes_fuzz

FUZZ_LIB_OBJS := $(patsubst %.cc,$(FUZZ_DIR)/obj/%.o,$(LIB_SRCS))
FUZZ_OBJS_region_fuzz := $(FUZZ_LIB_OBJS) \
  $(FUZZ_DIR)/obj/tools/stats_dump/snapshot_json.o \
  $(FUZZ_DIR)/obj/tools/stats_dump/text_view.o \
  $(FUZZ_DIR)/obj/tools/stats_dump/label_text.o
FUZZ_LIBS_region_fuzz := -lpthread
FUZZ_OBJS_doctor_config_fuzz := $(FUZZ_DIR)/obj/tools/stats_dump/doctor_config.o
FUZZ_LIBS_doctor_config_fuzz := -lyaml-cpp
FUZZ_OBJS_elf_notes_fuzz := $(FUZZ_DIR)/obj/tools/tslab-trace/elf_probes.o \
  $(FUZZ_DIR)/obj/tools/tslab-trace/list_json.o
FUZZ_LIBS_elf_notes_fuzz := -lelf

$(FUZZ_DIR)/obj/%.o: %.cc | build-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCXX $<")
	$(Q)$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -c $< -o $@

.SECONDEXPANSION:
$(FUZZ_DIR)/%_fuzz: $(FUZZ_DIR)/obj/fuzz/%_fuzz.o $$(FUZZ_OBJS_$$*_fuzz)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS_$*_fuzz)

# Generated seeds: what the repo cannot hold small.
$(FUZZ_DIR)/seeds/region_fuzz/real:
	@mkdir -p $(dir $@)
	$(Q)printf '\001' > $@   # mode 1, no overlay: the real image itself
$(FUZZ_DIR)/seeds/doctor_config_fuzz/doctor.yaml: configs/doctor.yaml
	@mkdir -p $(dir $@)
	$(Q)cp $< $@
$(FUZZ_DIR)/seeds/elf_notes_fuzz/probe.o: fuzz/seeds/usdt_probe.c | build-check
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) -O2 -c $< -o $@
	$(Q)$(FUZZ_CC) -O2 -fPIC -shared $< -o $(dir $@)probe.so
	$(Q)rm -f $(dir $@)probe.a && ar rcs $(dir $@)probe.a $@

.PHONY: fuzz fuzz-build
fuzz-build: $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS)) \
  $(FUZZ_DIR)/seeds/region_fuzz/real $(FUZZ_DIR)/seeds/elf_notes_fuzz/probe.o \
  $(FUZZ_DIR)/seeds/doctor_config_fuzz/doctor.yaml

fuzz: fuzz-build
	$(Q)status=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/seeds/$$t; \
	  echo "  FUZZ    $$t for $(FUZZ_SECONDS) s"; \
	  if $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	       -rss_limit_mb=2048 -print_final_stats=1 \
	       -artifact_prefix=$(FUZZ_DIR)/crash-$$t- \
	       $(FUZZ_DIR)/corpus/$$t fuzz/corpus/$$t $(FUZZ_DIR)/seeds/$$t \
	       > $(FUZZ_DIR)/$$t.log 2>&1; then \
	    grep -h '^stat::number_of_executed_units' $(FUZZ_DIR)/$$t.log | \
	      sed "s/^stat::number_of_executed_units: */          $$t: runs /;s/$$/, no finding/"; \
	  else \
	    status=1; echo "fuzz: $$t FAILED (log $(FUZZ_DIR)/$$t.log):"; \
	    grep -E -A25 '^==[0-9]+==|runtime error|deadly signal|Timeout' \
	      $(FUZZ_DIR)/$$t.log | head -60; \
	  fi; \
	done; exit $$status

-include $(shell find $(FUZZ_DIR) -name '*.d' 2>/dev/null)
