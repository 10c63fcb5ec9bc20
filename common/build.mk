# Code shared by all user-space parts: wire codec and command table.
COMMON_SRCS := common/codec.c common/commands.c
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
COMMON_SAN_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/san/%.o)
