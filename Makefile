# Dalio build: `make` builds everything into build/.
#   make            BPF objects, skeletons and the programs
#   make test       unit tests (ASan+UBSan), BPF_PROG_TEST_RUN tests, netns integration tests
#   make demo       demo topology from shards.yaml, a short workload, a printed result
#   make bench      benchmarks (root, up to 15 min; not part of test): bench/results/latest.md
#   make deps       install the Debian packages the build and tests need
#   make install    programs, systemd unit, docs (PREFIX=/usr/local, DESTDIR)
#   make format     clang-format in place; make format-check fails on a diff
# Each part adds its own rules in <part>/build.mk.

BUILD ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool

CFLAGS ?= -O2 -g
USER_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Iinclude -I$(BUILD) -MMD -MP
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Werror \
	-Iinclude -Ibpf -I$(BUILD)
LIBBPF_LIBS := $(shell pkg-config --libs libbpf libxdp 2>/dev/null || echo -lxdp -lbpf) -lelf -lz

# Code shared by all user-space parts: wire codec and command table.
COMMON_SRCS := common/codec.c common/commands.c
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
COMMON_SAN_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/san/%.o)

# Filled in by the parts' build.mk files.
PROGRAMS :=
UNIT_TESTS :=
BPF_OBJS :=
SKELETONS :=

.PHONY: all test unit bpf-test integration demo bench deps clean format format-check install
all:

include $(sort $(wildcard */build.mk))

all: $(BPF_OBJS) $(SKELETONS) $(PROGRAMS)

$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: xdp/%.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bpf/%.bpf.o: tc/%.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) -c $< -o $@

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

bpf-test: $(BUILD)/test_bpf
	$(BUILD)/test_bpf

integration: all
	bash test/integration/run.sh

# test and demo install missing dependencies first, then build.
test:
	bash ci/install-deps.sh
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) bpf-test
	$(MAKE) integration

demo:
	bash ci/install-deps.sh
	$(MAKE) all
	bash ci/demo.sh

deps:
	bash ci/install-deps.sh

clean:
	rm -rf $(BUILD)

# An LB node runs dalio-agent (sbin) from systemd; replica hosts dalio-replica.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(PREFIX)/share/doc/dalio $(DESTDIR)$(SYSCONFDIR)/dalio
	install -m 755 $(BUILD)/dalio-agent $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(BUILD)/dalio-ctl $(BUILD)/dalio-replica $(BUILD)/dalio-cli \
		$(BUILD)/dalio-bench $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|/usr/local/sbin/|$(PREFIX)/sbin/|' -e 's|/etc/dalio/|$(SYSCONFDIR)/dalio/|' \
		-e 's|/usr/local/share/doc/|$(PREFIX)/share/doc/|' \
		agent/dalio-agent.service >$(DESTDIR)$(UNITDIR)/dalio-agent.service
	chmod 644 $(DESTDIR)$(UNITDIR)/dalio-agent.service
	install -m 644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/dalio/
	install -m 644 shards.yaml $(DESTDIR)$(SYSCONFDIR)/dalio/shards.yaml.example

FORMAT_FILES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
