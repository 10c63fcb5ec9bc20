# XDP programs: the LB data path and the pass-through used on veth peers.
BPF_OBJS += $(BUILD)/bpf/dalio_lb.bpf.o $(BUILD)/bpf/xdp_pass.bpf.o
SKELETONS += $(BUILD)/dalio_lb.skel.h
