# dalio-agent, the LB's control plane. So far: its configuration parser and
# that parser's unit test.
AGENT_CONFIG_SRCS := agent/config.c

$(BUILD)/san/test/unit/test_config.o: USER_CFLAGS += -Iagent
$(BUILD)/test_config: $(BUILD)/san/test/unit/test_config.o \
		$(AGENT_CONFIG_SRCS:%.c=$(BUILD)/san/%.o) $(COMMON_SAN_OBJS)
	$(CC) $(SAN_FLAGS) $^ -o $@ -lcmocka -lyaml
UNIT_TESTS += $(BUILD)/test_config
