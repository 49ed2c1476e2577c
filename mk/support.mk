# The test-support library: what the tests and the benchmark driver share
# (tests/support/: the one child-process runner), compiled once per build
# into libtslab_testsupport.a. Not part of the installed library.
TEST_SUPPORT_OBJS := $(patsubst %.cc,$(OBJ)/%.o,$(wildcard tests/support/*.cc))
TEST_SUPPORT_A := $(LIBDIR)/libtslab_testsupport.a

$(TEST_SUPPORT_A): $(TEST_SUPPORT_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# mk/bench.mk is read before this file: its driver's prerequisite is added
# here (its recipe names the archive, expanded when it runs).
$(BIN)/tslab-bench: $(TEST_SUPPORT_A)
