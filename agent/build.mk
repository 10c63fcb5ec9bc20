# dalio-agent, the LB's control plane, and its configuration parser's test.
AGENT_CONFIG_SRCS := agent/config.c
AGENT_SRCS := agent/main.c agent/loop.c agent/membership.c agent/retransmit.c agent/reload.c agent/datapath.c agent/probe.c agent/shardmap.c agent/log.c \
	agent/route.c $(AGENT_CONFIG_SRCS)
AGENT_OBJS := $(AGENT_SRCS:%.c=$(BUILD)/obj/%.o)

# The datapath includes the generated skeletons.
$(BUILD)/obj/agent/datapath.o: $(BUILD)/dalio_lb.skel.h $(BUILD)/dalio_fanout.skel.h

$(BUILD)/dalio-agent: $(AGENT_OBJS) $(COMMON_OBJS)
	$(CC) $(USER_CFLAGS) $^ -o $@ $(LIBBPF_LIBS) -lyaml -lmnl
PROGRAMS += $(BUILD)/dalio-agent

$(BUILD)/san/test/unit/test_config.o: USER_CFLAGS += -Iagent
$(BUILD)/test_config: $(BUILD)/san/test/unit/test_config.o \
		$(AGENT_CONFIG_SRCS:%.c=$(BUILD)/san/%.o) $(COMMON_SAN_OBJS)
	$(CC) $(SAN_FLAGS) $^ -o $@ -lcmocka -lyaml
UNIT_TESTS += $(BUILD)/test_config
