# Client side: libdalio (client/dalio.c), dalio-cli, dalio-bench, and the
# unit tests of the shared codec, the command table and the client library.
CLIENT_LIBS := -lhiredis -lpthread

LIBDALIO_SRCS := client/dalio.c
LIBDALIO_OBJS := $(LIBDALIO_SRCS:%.c=$(BUILD)/obj/%.o)
LIBDALIO_SAN_OBJS := $(LIBDALIO_SRCS:%.c=$(BUILD)/san/%.o)

# Tests include the public header as "dalio.h".
$(BUILD)/san/test/unit/%.o: USER_CFLAGS += -Iclient

$(BUILD)/libdalio.a: $(LIBDALIO_OBJS) $(COMMON_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/dalio-cli: $(BUILD)/obj/client/dalio-cli.o $(BUILD)/libdalio.a
	$(CC) $(CFLAGS) -o $@ $^ $(CLIENT_LIBS)

$(BUILD)/dalio-bench: $(BUILD)/obj/client/dalio-bench.o $(BUILD)/obj/client/hist.o \
		$(BUILD)/libdalio.a
	$(CC) $(CFLAGS) -o $@ $^ $(CLIENT_LIBS) -lm

PROGRAMS += $(BUILD)/libdalio.a $(BUILD)/dalio-cli $(BUILD)/dalio-bench

UNIT_LIBS := -lcmocka $(CLIENT_LIBS)

$(BUILD)/test_codec: $(BUILD)/san/test/unit/test_codec.o $(COMMON_SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(UNIT_LIBS)

$(BUILD)/test_commands: $(BUILD)/san/test/unit/test_commands.o $(COMMON_SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(UNIT_LIBS)

$(BUILD)/test_client: $(BUILD)/san/test/unit/test_client.o $(LIBDALIO_SAN_OBJS) \
		$(COMMON_SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(UNIT_LIBS)

$(BUILD)/test_hist: $(BUILD)/san/test/unit/test_hist.o $(BUILD)/san/client/hist.o
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(UNIT_LIBS)

UNIT_TESTS += $(BUILD)/test_codec $(BUILD)/test_commands $(BUILD)/test_client \
	$(BUILD)/test_hist
