# Tests: every tests/*_test.cc is one GoogleTest binary, build/bin/tests/NAME.
# A test that needs more than libtslab + gtest declares it here:
#   TEST_EXTRA_OBJS_<name> (objects), TEST_LDLIBS_<name> (libraries).
# Every test links the test-support library (mk/support.mk).
# `make test` builds everything (tests may run the tools and the demo; plain
# `make` does not build the tests) and runs tests/run_tests.sh, which prints "tests: N passed, N failed, N skipped".
TEST_SRCS := $(wildcard tests/*_test.cc)
TEST_BINS := $(patsubst tests/%.cc,$(BIN)/tests/%,$(TEST_SRCS))

.SECONDEXPANSION:
$(BIN)/tests/%: $(OBJ)/tests/%.o $$(TEST_EXTRA_OBJS_$$*) $(TEST_SUPPORT_A) $(LIBTSLAB_A)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(LDFLAGS) -o $@ $< $(TEST_EXTRA_OBJS_$*) $(TEST_SUPPORT_A) $(TSLAB_LDLIBS) \
	  $(TEST_LDLIBS_$*) -lgtest -lgtest_main -lpthread

.PHONY: tests test
tests: $(TEST_BINS)

test: all tests
	$(Q)TSLAB_BUILD=$(TOP)/$(BUILD) tests/run_tests.sh $(BIN)/tests
