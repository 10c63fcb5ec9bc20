# dalio-agent, the LB's control plane, dalio-ctl, and their unit tests.
AGENT_CONFIG_SRCS := agent/config.c
# Shared by the agent and dalio-ctl: map snapshots, saved agent state, formatting.
AGENT_VIEW_SRCS := agent/lbstate.c agent/agent_state.c agent/metrics_fmt.c agent/log.c
AGENT_SRCS := agent/main.c agent/loop.c agent/membership.c agent/retransmit.c agent/vr.c agent/reload.c \
	agent/datapath.c agent/probe.c agent/shardmap.c agent/route.c agent/adopt.c agent/metrics.c \
	agent/peer.c agent/vip.c \
	$(AGENT_VIEW_SRCS) $(AGENT_CONFIG_SRCS)
AGENT_OBJS := $(AGENT_SRCS:%.c=$(BUILD)/obj/%.o)

# The datapath includes the generated skeletons.
$(BUILD)/obj/agent/datapath.o: $(BUILD)/dalio_lb.skel.h $(BUILD)/dalio_fanout.skel.h

$(BUILD)/dalio-agent: $(AGENT_OBJS) $(COMMON_OBJS)
	$(CC) $(USER_CFLAGS) $^ -o $@ $(LIBBPF_LIBS) -lyaml -lmnl
PROGRAMS += $(BUILD)/dalio-agent

CTL_SRCS := agent/ctl.c $(AGENT_VIEW_SRCS) $(AGENT_CONFIG_SRCS)
$(BUILD)/dalio-ctl: $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)
	$(CC) $(USER_CFLAGS) $^ -o $@ $(LIBBPF_LIBS) -lyaml
PROGRAMS += $(BUILD)/dalio-ctl

$(BUILD)/san/test/unit/test_config.o: USER_CFLAGS += -Iagent
$(BUILD)/test_config: $(BUILD)/san/test/unit/test_config.o \
		$(AGENT_CONFIG_SRCS:%.c=$(BUILD)/san/%.o) $(COMMON_SAN_OBJS)
	$(CC) $(SAN_FLAGS) $^ -o $@ -lcmocka -lyaml
UNIT_TESTS += $(BUILD)/test_config

# Metrics and status formatting on fake state (no BPF needed at run time).
$(BUILD)/san/test/unit/test_metrics.o: USER_CFLAGS += -Iagent
$(BUILD)/test_metrics: $(BUILD)/san/test/unit/test_metrics.o \
		$(BUILD)/san/agent/metrics_fmt.o $(BUILD)/san/agent/agent_state.o \
		$(BUILD)/san/agent/log.o $(AGENT_CONFIG_SRCS:%.c=$(BUILD)/san/%.o)
	$(CC) $(SAN_FLAGS) $^ -o $@ -lcmocka -lyaml $(LIBBPF_LIBS)
UNIT_TESTS += $(BUILD)/test_metrics

# The event loop: fd slot reuse, stale events, timers.
$(BUILD)/san/test/unit/test_loop.o: USER_CFLAGS += -Iagent
$(BUILD)/test_loop: $(BUILD)/san/test/unit/test_loop.o $(BUILD)/san/agent/loop.o
	$(CC) $(SAN_FLAGS) $^ -o $@ -lcmocka
UNIT_TESTS += $(BUILD)/test_loop

# Re-adoption decisions after a restart (pure: no maps).
$(BUILD)/san/test/unit/test_adopt.o: USER_CFLAGS += -Iagent
$(BUILD)/test_adopt: $(BUILD)/san/test/unit/test_adopt.o $(BUILD)/san/agent/adopt.o \
		$(BUILD)/san/agent/log.o $(AGENT_CONFIG_SRCS:%.c=$(BUILD)/san/%.o)
	$(CC) $(SAN_FLAGS) $^ -o $@ -lcmocka -lyaml $(LIBBPF_LIBS)
UNIT_TESTS += $(BUILD)/test_adopt

# The standby's takeover timing (peer_watch: pure, no sockets).
$(BUILD)/san/test/unit/test_peer.o: USER_CFLAGS += -Iagent
$(BUILD)/test_peer: $(BUILD)/san/test/unit/test_peer.o $(BUILD)/san/agent/peer.o \
		$(BUILD)/san/agent/loop.o $(BUILD)/san/agent/log.o $(COMMON_SAN_OBJS)
	$(CC) $(SAN_FLAGS) $^ -o $@ -lcmocka
UNIT_TESTS += $(BUILD)/test_peer
