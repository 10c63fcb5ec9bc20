# dalio-replica: the daemon in front of one redis-server (see replica/main.c),
# and the unit tests of its Redis-free parts.
REPLICA_SRCS := replica/main.c replica/apply.c replica/net.c replica/nack.c \
	replica/order.c replica/reads.c replica/resp.c replica/sync.c \
	replica/vrlog.c
REPLICA_OBJS := $(REPLICA_SRCS:%.c=$(BUILD)/obj/%.o)

PROGRAMS += $(BUILD)/dalio-replica

$(BUILD)/dalio-replica: $(REPLICA_OBJS) $(COMMON_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ -lhiredis

# Unit tests: built with sanitizers from $(BUILD)/san objects.
REPLICA_UNIT_LIBS := $(SAN_FLAGS) -lcmocka -lhiredis

$(BUILD)/test_replica_resp: $(BUILD)/san/test/unit/test_replica_resp.o \
		$(BUILD)/san/replica/resp.o $(COMMON_SAN_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(REPLICA_UNIT_LIBS)

$(BUILD)/test_replica_order: $(BUILD)/san/test/unit/test_replica_order.o \
		$(BUILD)/san/replica/order.o $(BUILD)/san/replica/nack.o \
		$(BUILD)/san/replica/reads.o $(COMMON_SAN_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(REPLICA_UNIT_LIBS)

$(BUILD)/test_replica_vrlog: $(BUILD)/san/test/unit/test_replica_vrlog.o \
		$(BUILD)/san/replica/vrlog.o $(COMMON_SAN_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(REPLICA_UNIT_LIBS)

UNIT_TESTS += $(BUILD)/test_replica_resp $(BUILD)/test_replica_order $(BUILD)/test_replica_vrlog

$(BUILD)/san/test/unit/test_replica_%.o: USER_CFLAGS += -Ireplica
