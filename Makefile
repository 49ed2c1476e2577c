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

# Debian packages the project needs (make deps).
DEB_PACKAGES := build-essential pkg-config libbpf-dev bpftool clang llvm \
  libelf-dev zlib1g-dev systemtap-sdt-dev libcli11-dev libyaml-cpp-dev \
  nlohmann-json3-dev libgtest-dev libbenchmark-dev bpftrace \
  libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev python3 \
  libclang-rt-14-dev libcpp-httplib-dev prometheus curl

.PHONY: all deps deps-check test demo bench clean
.SECONDARY:
all: lib

# Installs the packages above. Runs by itself when one is missing.
deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get)" >&2; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_PACKAGES)

deps-check:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make: missing packages:" $$missing "- running make deps"; \
	  $(MAKE) --no-print-directory deps || exit 1; \
	fi

clean:
	rm -rf build

# Generic compile rules (every object depends on deps-check, order-only).
$(OBJ)/%.o: %.cc | deps-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(EXTRA_CXXFLAGS) -c $< -o $@

$(OBJ)/%.o: %.c | deps-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

include mk/lib.mk
include $(sort $(filter-out mk/lib.mk,$(wildcard mk/*.mk)))

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
