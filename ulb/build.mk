# dalio-ulb: the coordinator in user space (benchmark baseline), and the unit
# tests of its core. It reads shards.yaml with the agent's parser, compiled
# from agent/config.c.
ULB_CORE_SRCS := ulb/core.c
ULB_OBJS := $(BUILD)/obj/ulb/main.o $(ULB_CORE_SRCS:%.c=$(BUILD)/obj/%.o) \
	$(BUILD)/obj/agent/config.o

$(BUILD)/obj/ulb/%.o $(BUILD)/san/ulb/%.o: USER_CFLAGS += -Iulb -Iagent
$(BUILD)/san/test/unit/test_ulb.o: USER_CFLAGS += -Iulb

$(BUILD)/dalio-ulb: $(ULB_OBJS) $(COMMON_OBJS)
	$(CC) $(USER_CFLAGS) $^ -o $@ -lyaml
PROGRAMS += $(BUILD)/dalio-ulb

$(BUILD)/test_ulb: $(BUILD)/san/test/unit/test_ulb.o \
		$(ULB_CORE_SRCS:%.c=$(BUILD)/san/%.o) $(COMMON_SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ -lcmocka
UNIT_TESTS += $(BUILD)/test_ulb
