# Extra rules of the allocator core's tests (tests/*_test.cc are built by
# mk/tests.mk). compat_test links the compat API's C11 scenarios, compiled
# strictly: -std=c11 -pedantic on top of the usual -Wall -Wextra -Werror.
$(OBJ)/tests/compat_c11.o: CFLAGS += -pedantic
TEST_EXTRA_OBJS_compat_test := $(OBJ)/tests/compat_c11.o
# epoch_label_test checks stats_dump's label text helpers directly.
TEST_EXTRA_OBJS_epoch_label_test := $(OBJ)/tools/stats_dump/label_text.o

# tests/compat/every_decl.c, a program written against the original
# temporal-slab's public headers: built as C11 and as C++ with only
# -I include/tslab/compat (no other include path: a user changes only that
# and the link line), linked with libtslab.a; compat_build_test runs both.
COMPAT_INC := -I$(TOP)/include/tslab/compat
COMPAT_LINK := $(LIBTSLAB_A) -lpthread -lstdc++ -lm
COMPAT_PROGS := $(BIN)/tests/compat/every_decl_c11 $(BIN)/tests/compat/every_decl_cxx
$(BIN)/tests/compat/every_decl_c11: tests/compat/every_decl.c $(LIBTSLAB_A) include/tslab/compat/*.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) -std=c11 -pedantic -O1 -g $(WARN) $(SANFLAGS) $(COMPAT_INC) -o $@ $< $(COMPAT_LINK)
$(BIN)/tests/compat/every_decl_cxx: tests/compat/every_decl.c $(LIBTSLAB_A) include/tslab/compat/*.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $@")
	$(Q)$(CXX) -x c++ -std=c++17 -O1 -g $(WARN) $(SANFLAGS) $(COMPAT_INC) -o $@ $< -x none $(COMPAT_LINK)
tests: $(COMPAT_PROGS)
$(BIN)/tests/compat_build_test: | $(COMPAT_PROGS)
# The test also compiles (syntax only) a call of allocator_init, which must
# fail: it needs the compilers and the source tree.
$(OBJ)/tests/compat_build_test.o: EXTRA_CXXFLAGS += -DTSLAB_SOURCE_DIR='"$(TOP)"' \
  -DTSLAB_CC='"$(CC)"' -DTSLAB_CXX='"$(CXX)"'

# symbols_test reads the public headers of the source tree and runs nm on
# the shared libraries (mk/lib.mk).
$(OBJ)/tests/symbols_test.o: EXTRA_CXXFLAGS += -DTSLAB_SOURCE_DIR='"$(TOP)"'
$(BIN)/tests/symbols_test: | $(LIBTSLAB_SO) $(LIBTSLAB_COMPAT_SO)

# install_test runs tests/consumer/run.sh: make install of this build (SAN
# included) into a temporary prefix, and consumers built with its flags.
$(OBJ)/tests/install_test.o: EXTRA_CXXFLAGS += -DTSLAB_SOURCE_DIR='"$(TOP)"' \
  -DTSLAB_SAN='"$(SAN)"' -DTSLAB_SANFLAGS='"$(SANFLAGS)"'
$(BIN)/tests/install_test: | lib $(BIN)/stats_dump $(BIN)/tslab-trace $(BIN)/tslab-exporter
