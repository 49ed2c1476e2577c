# tslab: the front door. `make` builds everything into build/, `make test`
# builds and runs every test, `make demo` runs the demo, `make bench` the
# benchmarks, `make deps` installs the Debian packages (as root).
#
# Variables: V=1 (echo commands), SAN=address (ASan+UBSan) or SAN=thread
# (TSan): sanitized builds go to build/san-$(SAN)/ so they never mix with
# the default build. CXX/CC may be overridden.
#
# Each component adds its rules in mk/*.mk.

.DEFAULT_GOAL := all
MAKEFLAGS += --no-builtin-rules -j$(shell nproc)

TOP := $(abspath .)
SAN ?=
ifeq ($(SAN),)
BUILD ?= build
else
BUILD ?= build/san-$(SAN)
endif
BIN := $(BUILD)/bin
LIBDIR := $(BUILD)/lib
OBJ := $(BUILD)/obj

ifeq ($(V),1)
Q :=
else
Q := @
endif

CXX ?= g++
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool

SANFLAGS :=
ifeq ($(SAN),address)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(SAN),thread)
SANFLAGS := -fsanitize=thread
else ifneq ($(SAN),)
$(error SAN must be address or thread, not '$(SAN)')
endif

WARN := -Wall -Wextra -Werror
# Frame pointers everywhere: bpftrace's ustack and perf walk the user's
# stack through libtslab (the closed-epoch allocation one-liner shows the
# caller); the cost is one general-purpose register.
CPPFLAGS := -I$(TOP) -I$(TOP)/include -I$(BUILD)/gen
CXXFLAGS := -std=c++20 -O2 -g -fno-omit-frame-pointer $(WARN) $(SANFLAGS) -MMD -MP
CFLAGS := -std=c11 -O2 -g -fno-omit-frame-pointer $(WARN) $(SANFLAGS) -MMD -MP
LDFLAGS := $(SANFLAGS)

# Debian packages. BUILD_PACKAGES are what plain `make` (the library and
# the tools) needs; the rest serve `make test` (gtest, bpftrace, cmake for
# the consumer test, groff for its man page check, promtool, curl, the sanitizers' and fuzzers' clang
# runtime) and `make bench` (the peer allocators, google-benchmark).
# `make deps` (as root) installs them all; `make test`, `make demo` and
# `make bench` run it by themselves when one is missing (deps-check).
# Plain `make` never runs apt-get: build-check stops it with one line
# naming the missing package.
BUILD_PACKAGES := build-essential pkg-config libbpf-dev bpftool clang llvm \
  libelf-dev zlib1g-dev systemtap-sdt-dev libcli11-dev libyaml-cpp-dev \
  nlohmann-json3-dev libcpp-httplib-dev
TEST_PACKAGES := libgtest-dev bpftrace python3 cmake groff-base libclang-rt-14-dev \
  prometheus curl
BENCH_PACKAGES := libbenchmark-dev libjemalloc-dev libmimalloc-dev \
  libgoogle-perftools-dev
DEB_PACKAGES := $(BUILD_PACKAGES) $(TEST_PACKAGES) $(BENCH_PACKAGES)

# build-check's probes, HEADER:PACKAGE and COMMAND:PACKAGE: a header is
# looked for by the compiler itself (__has_include), so the check holds off
# Debian too; only the package named is Debian's.
BUILD_DEP_HEADERS := bpf/libbpf.h:libbpf-dev libelf.h:libelf-dev \
  zlib.h:zlib1g-dev sys/sdt.h:systemtap-sdt-dev CLI/CLI.hpp:libcli11-dev \
  yaml-cpp/yaml.h:libyaml-cpp-dev nlohmann/json.hpp:nlohmann-json3-dev \
  httplib.h:libcpp-httplib-dev
BUILD_DEP_COMMANDS := $(firstword $(CXX)):g++ $(firstword $(CC)):gcc \
  pkg-config:pkg-config $(CLANG):clang $(BPFTOOL):bpftool

.PHONY: all deps deps-check build-check test demo bench clean
.SECONDARY:
all: lib

# Installs the packages above (root only).
deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get)" >&2; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_PACKAGES)

# For make test/demo/bench: installs what is missing (make deps).
deps-check:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make: missing packages:" $$missing "- running make deps"; \
	  $(MAKE) --no-print-directory deps || exit 1; \
	fi

# The goals that install their packages: every compile of theirs waits for
# deps-check (through build-check), so -j cannot compile before apt-get.
INSTALLING_GOALS := test tests demo bench bench-build fuzz fuzz-build
ifneq ($(filter $(INSTALLING_GOALS),$(MAKECMDGOALS)),)
build-check: deps-check
endif

# For plain make (every compile waits for it): one line and a stop if a
# build dependency is missing; never installs anything.
build-check:
	@for cp in $(BUILD_DEP_COMMANDS); do \
	  command -v "$${cp%%:*}" >/dev/null 2>&1 || { \
	    echo "make: '$${cp%%:*}' not found: install the Debian package $${cp##*:} (or run make deps as root)" >&2; exit 1; }; \
	done; \
	for hp in $(BUILD_DEP_HEADERS); do \
	  printf '#if !__has_include(<%s>)\n#error "make: <%s> not found: install the Debian package %s (or run make deps as root)"\n#endif\n' \
	    "$${hp%%:*}" "$${hp%%:*}" "$${hp##*:}"; \
	done | $(CXX) -E -x c++ - -o /dev/null 2>&1 | \
	  sed -n 's/.*#error "\(.*\)"$$/\1/p' | head -1 | grep . >&2 && exit 1 || true

clean:
	rm -rf build

# Generic compile rules (every object waits for build-check, order-only).
$(OBJ)/%.o: %.cc | build-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(EXTRA_CXXFLAGS) -c $< -o $@

$(OBJ)/%.o: %.c | build-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

include mk/version.mk
include mk/lib.mk
include $(sort $(filter-out mk/lib.mk mk/version.mk,$(wildcard mk/*.mk)))

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
