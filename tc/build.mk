# tc programs: fan-out of sequenced writes.
BPF_OBJS += $(BUILD)/bpf/dalio_fanout.bpf.o
SKELETONS += $(BUILD)/dalio_fanout.skel.h
