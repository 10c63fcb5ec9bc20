# Linearizability checker for per-key register histories (docs/checker.md).
LINCHECK_SRCS := test/lincheck/history.c test/lincheck/checker.c
LINCHECK_OBJS := $(LINCHECK_SRCS:%.c=$(BUILD)/obj/%.o)
LINCHECK_SAN_OBJS := $(LINCHECK_SRCS:%.c=$(BUILD)/san/%.o)

PROGRAMS += $(BUILD)/dalio-lincheck $(BUILD)/lincheck-gen
UNIT_TESTS += $(BUILD)/test_lincheck

$(BUILD)/dalio-lincheck: $(BUILD)/obj/test/lincheck/main.o $(LINCHECK_OBJS)
	$(CC) $(USER_CFLAGS) $^ -o $@

# Random linearizable histories, for benchmarks (docs/checker.md).
$(BUILD)/lincheck-gen: $(BUILD)/obj/test/lincheck/gen_main.o $(BUILD)/obj/test/lincheck/gen.o
	$(CC) $(USER_CFLAGS) $^ -o $@

$(BUILD)/test_lincheck: $(BUILD)/san/test/lincheck/test_lincheck.o $(LINCHECK_SAN_OBJS) \
		$(BUILD)/san/test/lincheck/gen.o
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $^ -o $@ -lcmocka
