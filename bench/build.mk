# Benchmarks (`sudo make bench`, never part of `make test`): the XDP reflector
# that is the ceiling for one pass through the LB, and the matrix runner
# bench/run.sh (Dalio pb, dalio-ulb, Redis native replication, reflector).
$(BUILD)/bpf/%.bpf.o: bench/%.bpf.c $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -Ibench -MMD -MP -c $< -o $@
BPF_OBJS += $(BUILD)/bpf/reflector.bpf.o $(BUILD)/bpf/null_replica.bpf.o

bench:
	bash ci/install-deps.sh
	$(MAKE) all
	bash bench/run.sh
