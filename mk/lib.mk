# libtslab: build/lib/libtslab.a and libtslab.so, plus two variants used by
# the benchmark to price the counters and the probes:
#   libtslab_nostats.a (TSLAB_STATS=0), libtslab_nousdt.a (TSLAB_USDT=0).
LIB_SRCS := $(wildcard src/allocator/*.cc) src/usdt/semaphores.cc
LIB_CXXFLAGS := -fPIC -fno-exceptions -fno-rtti

define lib_variant
# $(1): suffix, $(2): extra defines
LIB_OBJS$(1) := $$(patsubst %.cc,$$(OBJ)/lib$(1)/%.o,$$(LIB_SRCS))
$$(OBJ)/lib$(1)/%.o: %.cc | deps-check
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

$(LIBDIR)/libtslab.so: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) -shared -Wl,-soname,libtslab.so $(LDFLAGS) -o $@ $^ -lpthread

LIBTSLAB_A := $(LIBDIR)/libtslab.a
LIBTSLAB_SO := $(LIBDIR)/libtslab.so
# What a program links to use libtslab statically.
TSLAB_LDLIBS := $(LIBTSLAB_A) -lpthread

.PHONY: lib
lib: $(LIBTSLAB_A) $(LIBTSLAB_SO) $(LIBDIR)/libtslab_nostats.a $(LIBDIR)/libtslab_nousdt.a
all: lib
