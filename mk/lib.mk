# libtslab: build/lib/libtslab.a and the shared libraries
#   libtslab.so.$(TSLAB_VERSION) (soname libtslab.so.MAJOR, symlinks
#     libtslab.so.MAJOR and libtslab.so): exports the public C API only
#     (tslab/tslab.h, tslab/stats_region.h);
#   libtslab_compat.so.$(TSLAB_VERSION) (soname libtslab_compat.so.MAJOR):
#     the same engine plus the original temporal-slab's names (epoch_close,
#     slab_free, ...; tslab/compat/*.h). A program links one of the two,
#     never both (each has its own copy of the engine); keeping the compat
#     names out of libtslab.so keeps generic C names such as free_obj out of
#     every program that links tslab. docs/compat.md.
# Everything is compiled with -fvisibility=hidden; the public headers mark
# their declarations visible (#pragma GCC visibility), and
# tests/symbols_test checks both dynamic symbol tables.
# libtslab.a holds the compat objects too: an archive member is linked only
# when a program calls one of its names, so it costs nothing otherwise.
#
# Two variants used by the benchmark to price the counters and the probes
# (built by `make bench` only): libtslab_nostats.a (TSLAB_STATS=0),
# libtslab_nousdt.a (TSLAB_USDT=0).
LIB_SRCS := $(wildcard src/allocator/*.cc) src/usdt/semaphores.cc
LIB_COMPAT_SRCS := src/allocator/compat.cc src/allocator/compat_stats.cc
LIB_CXXFLAGS := -fPIC -fno-exceptions -fno-rtti -fvisibility=hidden \
  -fvisibility-inlines-hidden

define lib_variant
# $(1): suffix, $(2): extra defines
LIB_OBJS$(1) := $$(patsubst %.cc,$$(OBJ)/lib$(1)/%.o,$$(LIB_SRCS))
$$(OBJ)/lib$(1)/%.o: %.cc | build-check
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  CXX     $$< $(2)")
	$$(Q)$$(CXX) $$(CPPFLAGS) $$(CXXFLAGS) $$(LIB_CXXFLAGS) $(2) -c $$< -o $$@
$$(LIBDIR)/libtslab$(1).a: $$(LIB_OBJS$(1))
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  AR      $$@")
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef

$(eval $(call lib_variant,,))
$(eval $(call lib_variant,_nostats,-DTSLAB_STATS=0))
$(eval $(call lib_variant,_nousdt,-DTSLAB_USDT=0))

LIB_CORE_OBJS := $(filter-out $(patsubst %.cc,$(OBJ)/lib/%.o,$(LIB_COMPAT_SRCS)),$(LIB_OBJS))

# $(1): library name (libtslab, libtslab_compat), $(2): its objects.
define shared_lib
$$(LIBDIR)/$(1).so.$$(TSLAB_VERSION): $(2)
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CXX) -shared -Wl,-soname,$(1).so.$$(TSLAB_VERSION_MAJOR) $$(LDFLAGS) \
	  -o $$@ $$^ -lpthread
$$(LIBDIR)/$(1).so.$$(TSLAB_VERSION_MAJOR): $$(LIBDIR)/$(1).so.$$(TSLAB_VERSION)
	$$(Q)ln -sf $$(notdir $$<) $$@
$$(LIBDIR)/$(1).so: $$(LIBDIR)/$(1).so.$$(TSLAB_VERSION_MAJOR)
	$$(Q)ln -sf $$(notdir $$<) $$@
endef
$(eval $(call shared_lib,libtslab,$$(LIB_CORE_OBJS)))
$(eval $(call shared_lib,libtslab_compat,$$(LIB_OBJS)))

LIBTSLAB_A := $(LIBDIR)/libtslab.a
LIBTSLAB_SO := $(LIBDIR)/libtslab.so
LIBTSLAB_COMPAT_SO := $(LIBDIR)/libtslab_compat.so
# What a program links to use libtslab statically (the engine is C++: a C
# program's link line needs the C++ runtime, as tslab.pc's Libs.private says).
TSLAB_LDLIBS := $(LIBTSLAB_A) -lpthread

.PHONY: lib
lib: $(LIBTSLAB_A) $(LIBTSLAB_SO) $(LIBTSLAB_COMPAT_SO)
all: lib
