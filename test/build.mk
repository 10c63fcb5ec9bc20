# Tests: the linearizability checker, and BPF_PROG_TEST_RUN tests of the data
# path (root), both built with sanitizers.
include test/lincheck/build.mk

$(BUILD)/san/test/bpf/test_xdp_lb.o: $(BUILD)/dalio_lb.skel.h $(BUILD)/devmap_egress_test.skel.h
$(BUILD)/test_bpf: $(BUILD)/san/test/bpf/test_xdp_lb.o $(COMMON_SAN_OBJS)
	$(CC) $(SAN_FLAGS) $^ -o $@ -lcmocka $(LIBBPF_LIBS)

# Test-only BPF programs (fault injection: this kernel has no netem).
$(BUILD)/bpf/%.bpf.o: test/fault/%.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@
BPF_OBJS += $(BUILD)/bpf/fault_drop.bpf.o
$(BUILD)/bpf/fault_drop10.bpf.o: test/fault/fault_drop.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -DDROP_PCT=10 -c $< -o $@
BPF_OBJS += $(BUILD)/bpf/fault_drop10.bpf.o
BPF_OBJS += $(BUILD)/bpf/fault_tun.bpf.o

# dalio-netem: loss, duplication, delay and reordering through a TUN device
# (test/fault/dalio-netem.c); it loads fault_tun.bpf.o through its skeleton.
$(BUILD)/obj/test/fault/dalio-netem.o: $(BUILD)/fault_tun.skel.h
$(BUILD)/dalio-netem: $(BUILD)/obj/test/fault/dalio-netem.o
	$(CC) $(USER_CFLAGS) $^ -o $@ $(LIBBPF_LIBS)
PROGRAMS += $(BUILD)/dalio-netem

# Test-only BPF programs run by test_bpf (the devmap egress code as plain XDP).
$(BUILD)/bpf/%.bpf.o: test/bpf/%.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@
BPF_OBJS += $(BUILD)/bpf/devmap_egress_test.bpf.o
SKELETONS += $(BUILD)/devmap_egress_test.skel.h
