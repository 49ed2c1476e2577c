# The version of tslab: the one source of truth. The shared library's
# file name and soname (libtslab.so.MAJOR.MINOR.PATCH, soname
# libtslab.so.MAJOR), tslab.pc, the CMake package's version file and every
# tool's --version come from here. MAJOR changes when the C ABI breaks (a
# function removed or changed, a struct's layout other than a tail append).
TSLAB_VERSION_MAJOR := 0
TSLAB_VERSION_MINOR := 1
TSLAB_VERSION_PATCH := 0
TSLAB_VERSION := $(TSLAB_VERSION_MAJOR).$(TSLAB_VERSION_MINOR).$(TSLAB_VERSION_PATCH)
# What the tools print after it (build provenance): git describe, or unknown.
TSLAB_GIT_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
# Given to every tool's main.cc (--version).
TOOL_VERSION_FLAGS := -DTSLAB_VERSION='"$(TSLAB_VERSION)"' -DTSLAB_GIT_VERSION='"$(TSLAB_GIT_VERSION)"'
