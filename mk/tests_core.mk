# Extra rules of the allocator core's tests (tests/*_test.cc are built by
# mk/tests.mk). compat_test links the compat API's C11 scenarios, compiled
# strictly: -std=c11 -pedantic on top of the usual -Wall -Wextra -Werror.
$(OBJ)/tests/compat_c11.o: CFLAGS += -pedantic
TEST_EXTRA_OBJS_compat_test := $(OBJ)/tests/compat_c11.o
# epoch_label_test checks stats_dump's label text helpers directly.
TEST_EXTRA_OBJS_epoch_label_test := $(OBJ)/tools/stats_dump/label_text.o
