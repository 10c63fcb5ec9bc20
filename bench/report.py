#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bookkeeping for bench/run.sh (standard library only).

  report.py record RESULTS BPF_CSV PREFIX SYSTEM NREP RATIO RATE REP T0 T1 LB_CPU OTHER_CPU
      Turns one run's files (PREFIX.json from dalio-bench, CPU, NET_RX, BPF and
      link snapshots taken around the measured window) into a row of RESULTS
      and rows of BPF_CSV.
  report.py ref-rate RESULTS NREP
      The load the fixed-rate sweep is built around: the smaller of Dalio's and
      dalio-ulb's closed-loop throughput at 50% writes.
  report.py report OUT RESULTS BPF_CSV ...
      Medians over repetitions, bench/results/latest.md, gnuplot data and PNG
      plots, and the ratio lines (printed last).
"""
import csv
import json
import os
import statistics
import subprocess
import sys

COLS = ["system", "replicas", "read_ratio", "rate", "rep", "ops_per_sec", "p50_us", "p99_us",
        "p999_us", "read_p99_us", "write_p99_us", "errors", "retries", "lb_threads_pct",
        "cpu_lb_busy_pct", "cpu_lb_softirq_pct", "cpu_other_busy_pct", "lb_pkts", "lb_pps",
        "bpf_ns_per_lb_pkt", "lb_core_ns_per_pkt", "lb_core_ns_per_op", "netrx_lb",
        "netrx_other"]
LB_PROGS = ("dalio_lb", "dalio_fanout", "reflector")
SYSTEMS = ["dalio", "ulb", "redis-primary", "redis-replicas", "reflector"]
NAMES = {
    "dalio": "Dalio pb (XDP+tc)",
    "ulb": "dalio-ulb (user space)",
    "redis-primary": "Redis native, reads at primary",
    "redis-replicas": "Redis native, reads at replicas (NOT linearizable)",
    "reflector": "XDP reflector (no replication: ceiling)",
    "dalio-vr": "Dalio vr",
    "dalio-null": "Dalio pb, null replicas",
    "ulb-null": "dalio-ulb, null replicas",
}
# Columns that need the LB threads' CPU time; a run where it could not be read
# (0) does not count for them.
LB_COLS = ("lb_threads_pct", "lb_core_ns_per_pkt", "lb_core_ns_per_op")


def cpu_fields(path):
    out = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            out[p[0]] = [int(x) for x in p[1:9]]
    return out


def cpu_delta(a, b, cpu):
    d = [y - x for x, y in zip(a[cpu], b[cpu])]
    total = sum(d) or 1
    user, nice, system, idle, iowait, irq, softirq, steal = d
    busy = total - idle - iowait
    return busy / total, system / total, (softirq + irq) / total


def progs(path):
    try:
        with open(path) as f:
            return {p["id"]: p for p in json.load(f)}
    except (OSError, ValueError):
        return {}


def rx_packets(path):
    try:
        with open(path) as f:
            return json.load(f)[0]["stats64"]["rx"]["packets"]
    except (OSError, ValueError, KeyError, IndexError):
        return 0


def record(args):
    (results, bpf_csv, prefix, system, nrep, ratio, rate, rep, t0, t1, lb_cpu,
     other_cpu) = args
    window = float(t1) - float(t0)
    try:
        with open(prefix + ".json") as f:
            r = json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        sys.stderr.write("no result from dalio-bench for %s:\n" % prefix)
        try:
            sys.stderr.write(open(prefix + ".err").read()[-2000:])
        except OSError:
            pass
        return 1
    c0, c1 = cpu_fields(prefix + ".cpu0"), cpu_fields(prefix + ".cpu1")
    lb_busy, _, lb_soft = cpu_delta(c0, c1, "cpu" + lb_cpu)
    other_busy, _, _ = cpu_delta(c0, c1, "cpu" + other_cpu)
    rx0 = open(prefix + ".rx0").read().split()
    rx1 = open(prefix + ".rx1").read().split()
    netrx = [int(b) - int(a) for a, b in zip(rx0, rx1)]
    pkts = rx_packets(prefix + ".link1") - rx_packets(prefix + ".link0")
    p0, p1 = progs(prefix + ".bpf0"), progs(prefix + ".bpf1")
    ids = {int(x) for x in open(prefix + ".ids").read().split()}
    lb_ns = int(open(prefix + ".lbns1").read()) - int(open(prefix + ".lbns0").read())
    bpf_ns = 0
    rows = []
    for pid, p in p1.items():
        if pid not in ids or pid not in p0:
            continue
        cnt = p.get("run_cnt", 0) - p0[pid].get("run_cnt", 0)
        ns = p.get("run_time_ns", 0) - p0[pid].get("run_time_ns", 0)
        if cnt <= 0:
            continue
        rows.append([system, nrep, ratio, p["name"], cnt, ns, "%.1f" % (ns / cnt),
                     "%.0f" % (cnt / window)])
        if p["name"] in LB_PROGS:
            bpf_ns += ns
    busy_ns = lb_ns
    ops = r["ops_per_sec"] * window
    row = [system, nrep, ratio, rate, rep, r["ops_per_sec"], r["p50_us"], r["p99_us"],
           r["p999_us"], r["read_p99_us"], r["write_p99_us"], r["errors"], r["retries"],
           "%.1f" % (100 * lb_ns / (window * 1e9)), "%.1f" % (100 * lb_busy),
           "%.1f" % (100 * lb_soft),
           "%.1f" % (100 * other_busy), pkts, "%.0f" % (pkts / window),
           "%.1f" % (bpf_ns / pkts if pkts else 0), "%.0f" % (busy_ns / pkts if pkts else 0),
           "%.0f" % (busy_ns / ops if ops else 0), netrx[0], netrx[1]]
    with open(results, "a", newline="") as f:
        csv.writer(f).writerow(row)
    with open(bpf_csv, "a", newline="") as f:
        csv.writer(f).writerows(rows)
    return 0


def load(results):
    with open(results) as f:
        return list(csv.DictReader(f))


def med(rows, key):
    vals = [float(r[key]) for r in rows]
    if key in LB_COLS:
        vals = [v for v in vals if v > 0]
    return statistics.median(vals) if vals else float("nan")


def select(rows, system, nrep, ratio, rate="0"):
    return [r for r in rows if r["system"] == system and r["replicas"] == str(nrep) and
            float(r["read_ratio"]) == float(ratio) and r["rate"] == str(rate)]


def ref_rate(args):
    rows = load(args[0])
    vals = [med(select(rows, s, args[1], 0.5), "ops_per_sec") for s in ("dalio", "ulb")]
    vals = [v for v in vals if v == v]
    print(int(min(vals)) if vals else 10000)
    return 0


def fmt(v, digits=0):
    if v != v:
        return "-"
    return ("{:,.%df}" % digits).format(v)


def ratio(a, b):
    if a != a or b != b or b == 0:
        return float("nan")
    return a / b


def gnuplot(script, cwd):
    try:
        subprocess.run(["gnuplot"], input=script, text=True, cwd=cwd, check=True,
                       capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("gnuplot failed: %s\n" % getattr(e, "stderr", e))
        return False


def report(args):
    (out, results, bpf_csv, nreps_first, duration, warmup, reps, clients, keys, value,
     lb_cpu, elapsed) = args
    rows = load(results)
    n = nreps_first
    ratios = sorted({float(r["read_ratio"]) for r in rows if r["rate"] == "0" and
                     r["replicas"] == n})
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in rows)]

    def m(system, rr, key="ops_per_sec", nrep=n, rate="0"):
        return med(select(rows, system, nrep, rr, rate), key)

    lines = []
    w = lines.append
    w("# Dalio benchmark: latest run")
    w("")
    w("Produced by `sudo make bench` (bench/run.sh, bench/report.py) in %s s. Every number "
      "below was measured in this one run, with the systems run in alternation, so the "
      "ratios compare like with like on a shared, noisy 2-core machine." % elapsed)
    w("")
    w("Setup: network namespaces of ci/topology.sh (client, LB, %s replica hosts on one "
      "bridge); dalio-bench with %s closed-loop clients (fixed-rate sweep: %d), %s keys "
      "uniform, %s-byte values, %s s measured after %s s warm-up, median of %s "
      "repetitions. The LB's interface runs threaded NAPI; its NAPI thread and dalio-ulb's "
      "thread are pinned to CPU %s (the LB core); clients, replicas, Redis and the "
      "bridge's NAPI thread share the other core. Checksum offload is off on the veths. "
      "Redis native: primary + %d replicas (REPLICAOF), every SET followed by `WAIT %d` "
      "(the durability of pb mode)." % (n, clients, 2 * int(clients), keys, value, duration,
                                          warmup, reps, lb_cpu, int(n) - 1, int(n) - 1))
    w("")
    w("## Throughput (ops/s) by read ratio, %s replicas" % n)
    w("")
    hdr = "| system | " + " | ".join("%d%% reads" % round(100 * x) for x in ratios) + " |"
    w(hdr)
    w("|---|" + "---:|" * len(ratios))
    for s in systems + ["dalio-vr"]:
        if s == "dalio-vr":
            w("| %s | " % NAMES[s] + " | ".join("not built yet" for _ in ratios) + " |")
            continue
        w("| %s | " % NAMES[s] + " | ".join(fmt(m(s, x)) for x in ratios) + " |")
    w("")
    w("## Ratios measured side by side")
    w("")
    w("| read ratio | dalio/ulb ops/s | dalio/redis-primary ops/s | dalio/reflector ops/s |"
      " dalio/ulb LB-core ns per op (lower: dalio cheaper) |")
    w("|---:|---:|---:|---:|---:|")
    for x in ratios:
        w("| %d%% | %s | %s | %s | %s |" % (
            round(100 * x), fmt(ratio(m("dalio", x), m("ulb", x)), 2),
            fmt(ratio(m("dalio", x), m("redis-primary", x)), 2),
            fmt(ratio(m("dalio", x), m("reflector", x)), 2),
            fmt(ratio(m("dalio", x, "lb_core_ns_per_op"), m("ulb", x, "lb_core_ns_per_op")),
                2)))
    w("")
    w("## Latency (us) and where the LB core's time goes, %s replicas" % n)
    w("")
    w("LB threads: CPU time of the LB's own threads on CPU %s (the LB interface's NAPI "
      "thread, which runs XDP, tc and the kernel's receive path, plus dalio-ulb's thread), "
      "from /proc/PID/schedstat, as %% of one core. CPU %s / other: whole-core busy share "
      "from /proc/stat, which on this shared machine includes other people's work. LB "
      "pkts/s: packets received by the LB's interface. LB-core ns/pkt and ns/op: LB "
      "threads' time divided by those. BPF ns/pkt: run time of the LB's BPF programs "
      "(XDP + tc fan-out, kernel.bpf_stats_enabled) per packet received." % (lb_cpu, lb_cpu))
    w("")
    w("| system | reads | ops/s | p50 | p99 | p99.9 | read p99 | write p99 | errors | "
      "LB threads %% | CPU %s busy %% | other CPU busy %% | LB pkts/s | LB-core ns/pkt | "
      "LB-core ns/op | BPF ns/pkt |" % lb_cpu)
    w("|---|---:|" + "---:|" * 14)
    for s in systems:
        for x in ratios:
            sel = select(rows, s, n, x)
            if not sel:
                continue
            lb = not s.startswith("redis")  # Redis native has no LB
            w("| %s | %d%% | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | "
              "%s |" % (s, round(100 * x), fmt(med(sel, "ops_per_sec")), fmt(med(sel, "p50_us")),
                        fmt(med(sel, "p99_us")), fmt(med(sel, "p999_us")),
                        fmt(med(sel, "read_p99_us")) if x > 0 else "-",
                        fmt(med(sel, "write_p99_us")) if x < 1 else "-",
                        fmt(sum(float(r["errors"]) for r in sel)),
                        fmt(med(sel, "lb_threads_pct"), 1) if lb else "-",
                        fmt(med(sel, "cpu_lb_busy_pct"), 1),
                        fmt(med(sel, "cpu_other_busy_pct"), 1),
                        fmt(med(sel, "lb_pps")) if lb else "-",
                        fmt(med(sel, "lb_core_ns_per_pkt")) if lb else "-",
                        fmt(med(sel, "lb_core_ns_per_op")) if lb else "-",
                        fmt(med(sel, "bpf_ns_per_lb_pkt"), 1) if s in ("dalio", "reflector")
                        else "-"))
    w("")
    # BPF programs
    with open(bpf_csv) as f:
        bpf = [r for r in csv.DictReader(f) if r["replicas"] == n]
    bpf = [r for r in bpf if not r["system"].startswith("redis") and float(r["runs_per_s"]) > 1]
    if bpf:
        w("## Per-program BPF run time (kernel.bpf_stats_enabled), %s replicas" % n)
        w("")
        w("| system | reads | program | runs/s | ns/run |")
        w("|---|---:|---|---:|---:|")
        keys_seen = []
        for r in bpf:
            k = (r["system"], float(r["read_ratio"]), r["prog"])
            if k not in keys_seen:
                keys_seen.append(k)
        for (s, x, p) in keys_seen:
            sel = [r for r in bpf if r["system"] == s and float(r["read_ratio"]) == x and
                   r["prog"] == p]
            w("| %s | %d%% | %s | %s | %s |" % (
                s, round(100 * x), p, fmt(statistics.median(float(r["runs_per_s"]) for r in sel)),
                fmt(statistics.median(float(r["ns_per_run"]) for r in sel), 1)))
        w("")
        w("xdp_pass runs on the bridge's side of the LB's veth (needed for XDP_TX on veth); it "
          "is not LB work.")
        w("")
    # coordinator-bound runs
    nulls = [r for r in rows if r["system"].endswith("-null") and r["replicas"] == n]
    if nulls:
        w("## Coordinator-bound: null replicas, %s replicas" % n)
        w("")
        w("The replica hosts answer WRITE and READ in XDP (bench/null_replica.bpf.c) instead of "
          "Redis, so the coordinator does all of its work (sequencing, fan-out, acks, dirty "
          "keys, stamps) while the replicas cost next to nothing. This is the comparison the "
          "Dalio paper makes (the same coordinator in the kernel and in user space). On this "
          "2-core machine the clients and the bridge still share one core with everything "
          "else, so look at the LB threads' share and ns/op as well as ops/s.")
        w("")
        w("| reads | system | ops/s | p50 | p99 | LB threads % | LB-core ns/op | LB pkts/s |")
        w("|---:|---|---:|---:|---:|---:|---:|---:|")
        for x in sorted({float(r["read_ratio"]) for r in nulls}):
            for s2 in ("dalio-null", "ulb-null"):
                sel = select(rows, s2, n, x)
                if sel:
                    w("| %d%% | %s | %s | %s | %s | %s | %s | %s |" % (
                        round(100 * x), NAMES[s2], fmt(med(sel, "ops_per_sec")),
                        fmt(med(sel, "p50_us")), fmt(med(sel, "p99_us")),
                        fmt(med(sel, "lb_threads_pct"), 1), fmt(med(sel, "lb_core_ns_per_op")),
                        fmt(med(sel, "lb_pps"))))
        w("")
    # sweep
    sweep = [r for r in rows if r["rate"] != "0" and r["replicas"] == n]
    if sweep:
        w("## Fixed-rate sweep (50%% reads, %d clients): latency vs offered load" %
          (2 * int(clients)))
        w("")
        w("| offered ops/s | system | achieved ops/s | p50 | p99 | p99.9 | LB threads % |")
        w("|---:|---|---:|---:|---:|---:|---:|")
        for rate in sorted({int(r["rate"]) for r in sweep}):
            for s in ("dalio", "ulb", "redis-primary"):
                sel = [r for r in sweep if r["system"] == s and int(r["rate"]) == rate]
                if sel:
                    w("| %s | %s | %s | %s | %s | %s | %s |" % (
                        fmt(rate), s, fmt(med(sel, "ops_per_sec")), fmt(med(sel, "p50_us")),
                        fmt(med(sel, "p99_us")), fmt(med(sel, "p999_us")),
                        fmt(med(sel, "lb_threads_pct"), 1)))
        w("")
    # other replica counts
    others = sorted({r["replicas"] for r in rows} - {n}, key=int)
    if others:
        w("## Other replica counts (closed loop, one repetition)")
        w("")
        w("| replicas | reads | dalio | ulb | redis-primary | dalio/ulb |")
        w("|---:|---:|---:|---:|---:|---:|")
        for k in [n] + others:
            for x in (0.5, 0.95):
                w("| %s | %d%% | %s | %s | %s | %s |" % (
                    k, round(100 * x), fmt(m("dalio", x, nrep=k)), fmt(m("ulb", x, nrep=k)),
                    fmt(m("redis-primary", x, nrep=k)),
                    fmt(ratio(m("dalio", x, nrep=k), m("ulb", x, nrep=k)), 2)))
        w("")

    # --- ratios
    r_w = ratio(m("dalio", 0.5), m("ulb", 0.5))
    r_r = ratio(m("dalio", 0.95), m("ulb", 0.95))
    eq_rates = sorted({int(r["rate"]) for r in sweep})
    eq = None
    if eq_rates:
        # equal load: the sweep point at half the reference (both far from saturation)
        eq = eq_rates[min(1, len(eq_rates) - 1)]
        d99 = med([r for r in sweep if r["system"] == "dalio" and int(r["rate"]) == eq],
                  "p99_us")
        u99 = med([r for r in sweep if r["system"] == "ulb" and int(r["rate"]) == eq], "p99_us")
        r_p = ratio(d99, u99)
    else:
        r_p = float("nan")
    top = max(ratios) if ratios else 1.0
    r_pps = ratio(m("dalio", top, "lb_pps"), m("reflector", top, "lb_pps"))
    cap = ratio(m("reflector", top, "lb_core_ns_per_pkt"), m("dalio", top, "lb_core_ns_per_pkt"))
    eff_w = ratio(m("ulb", 0.5, "lb_core_ns_per_op"), m("dalio", 0.5, "lb_core_ns_per_op"))
    eff_r = ratio(m("ulb", 0.95, "lb_core_ns_per_op"), m("dalio", 0.95, "lb_core_ns_per_op"))
    w("## The ratio lines")
    w("")
    w("```")
    final = [
        "ratio dalio/ulb throughput 50%% writes: %s" % fmt(r_w, 2),
        "ratio dalio/ulb throughput 95%% reads: %s" % fmt(r_r, 2),
        "ratio dalio/ulb p99 at equal load: %s" % fmt(r_p, 2),
        "ratio dalio reads/reflector pps: %s" % fmt(r_pps, 2),
    ]
    extra = [
        "(coordinator-bound, null replicas) dalio/ulb throughput 50%% writes: %s" %
        fmt(ratio(m("dalio-null", 0.5), m("ulb-null", 0.5)), 2),
        "(coordinator-bound, null replicas) dalio/ulb throughput 95%% reads: %s" %
        fmt(ratio(m("dalio-null", 0.95), m("ulb-null", 0.95)), 2),
        "(coordinator-bound, null replicas) dalio/ulb LB-core efficiency 50%% writes: %s" %
        fmt(ratio(m("ulb-null", 0.5, "lb_core_ns_per_op"),
                  m("dalio-null", 0.5, "lb_core_ns_per_op")), 2),
        "(LB-core efficiency, ops per busy LB-core second) dalio/ulb 50%% writes: %s" %
        fmt(eff_w, 2),
        "(LB-core efficiency, ops per busy LB-core second) dalio/ulb 95%% reads: %s" %
        fmt(eff_r, 2),
        "(LB-core capacity, packets per busy LB-core second) dalio reads/reflector: %s" %
        fmt(cap, 2),
    ]
    for line in extra + final:
        w(line)
    w("```")
    w("")
    w("- throughput ratios: median closed-loop ops/s of Dalio over dalio-ulb, same clients, "
      "same run. p99 at equal load: both driven at the same fixed rate (%s ops/s, half the "
      "smaller closed-loop throughput at 50%% writes; median over the repetitions), Dalio's p99 over dalio-ulb's (below 1: "
      "Dalio is faster). reflector pps: packets per second the LB's interface received with "
      "Dalio at %d%% reads over the same with the reflector, same clients." %
      (fmt(eq) if eq else "-", round(100 * top)))
    w("- The efficiency/capacity lines divide by the LB core's busy time instead: what the "
      "ratios would be if the LB core, not the replicas or the clients, were the bottleneck.")
    w("")

    # --- plots
    plots = plot(out, rows, n, ratios, systems, sweep)
    if plots:
        w("## Plots")
        w("")
        for p, title in plots:
            w("![%s](%s)" % (title, p))
        w("")
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write("\n".join(lines))
    print("report: %s" % os.path.join(out, "latest.md"))
    for line in extra:
        print(line)
    for line in final:
        print(line)
    return 0


def plot(out, rows, n, ratios, systems, sweep):
    made = []
    data = os.path.join(out, "raw")
    # throughput per system by read ratio
    with open(os.path.join(data, "throughput.dat"), "w") as f:
        f.write("# ratio " + " ".join(systems) + "\n")
        for x in ratios:
            vals = []
            for s in systems:
                v = med(select(rows, s, n, x), "ops_per_sec")
                vals.append("%.0f" % v if v == v else "NaN")
            f.write('"%d%%" %s\n' % (round(100 * x), " ".join(vals)))
    cols = " ".join("'raw/throughput.dat' using %d:xtic(1) title '%s'%s" %
                    (i + 2, NAMES[s], ", \\\n    " if i + 1 < len(systems) else "")
                    for i, s in enumerate(systems))
    script = """set terminal pngcairo size 1100,600 font 'Sans,11'
set output 'throughput.png'
set title 'Throughput by read ratio (%s replicas, closed loop, median of repetitions)'
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
set ylabel 'ops/s'
set xlabel 'reads'
set yrange [0:*]
set format y '%%.0s%%c'
plot %s
""" % (n, cols)
    if gnuplot(script, out):
        made.append(("throughput.png", "throughput by read ratio"))

    # latency CDF at 50% and 95% reads (first repetition)
    curves = []
    for x, dash in ((0.5, 1), (0.95, 2)):
        for i, s in enumerate(systems):
            f = os.path.join(data, "cdf-%s-n%s-r%s-q0-1.txt" % (s, n, fmt_ratio(x, rows, s, n)))
            if os.path.exists(f) and os.path.getsize(f) > 40:
                curves.append("'%s' using 1:2 with lines lw 2 dt %d lc %d title '%s, %d%% reads'"
                              % (os.path.relpath(f, out), dash, i + 1, s, round(100 * x)))
    if curves:
        script = """set terminal pngcairo size 1100,600 font 'Sans,11'
set output 'latency_cdf.png'
set title 'Latency CDF (%s replicas, closed loop; solid 50%% reads, dashed 95%% reads)'
set logscale x
set xlabel 'latency (us, log scale)'
set ylabel 'fraction of operations'
set yrange [0:1]
set grid
set key bottom right
plot %s
""" % (n, ", \\\n    ".join(curves))
        if gnuplot(script, out):
            made.append(("latency_cdf.png", "latency CDF"))

    # throughput and p99 vs offered load
    if sweep:
        plots = []
        for i, s in enumerate(("dalio", "ulb", "redis-primary")):
            fn = os.path.join(data, "sweep-%s.dat" % s)
            with open(fn, "w") as f:
                f.write("# offered achieved p50 p99\n")
                for rate in sorted({int(r["rate"]) for r in sweep}):
                    sel = [r for r in sweep if r["system"] == s and int(r["rate"]) == rate]
                    if sel:
                        f.write("%d %.0f %.0f %.0f\n" % (rate, med(sel, "ops_per_sec"),
                                                         med(sel, "p50_us"), med(sel, "p99_us")))
            plots.append((os.path.relpath(fn, out), i + 1, NAMES[s]))
        a = ", \\\n    ".join("'%s' using 1:2 with linespoints lw 2 pt 7 lc %d title '%s'" % p
                              for p in plots)
        b = ", \\\n    ".join("'%s' using 1:4 with linespoints lw 2 pt 7 lc %d title '%s p99'"
                              % p for p in plots)
        script = """set terminal pngcairo size 1300,560 font 'Sans,11'
set output 'load.png'
set multiplot layout 1,2 title 'Fixed-rate sweep, 50%% reads, %s replicas'
set grid
set key top left
set xlabel 'offered load (ops/s)'
set ylabel 'achieved throughput (ops/s)'
set format x '%%.0s%%c'
set format y '%%.0s%%c'
plot %s, x with lines dt 3 lc rgb 'gray' title 'achieved = offered'
set ylabel 'p99 latency (us, log scale)'
set logscale y
set format y '%%g'
plot %s
unset multiplot
""" % (n, a, b)
        if gnuplot(script, out):
            made.append(("load.png", "throughput and p99 vs offered load"))
    return made


def fmt_ratio(x, rows, s, n):
    # the read ratio as run.sh wrote it into file names
    for r in rows:
        if r["system"] == s and r["replicas"] == n and float(r["read_ratio"]) == x:
            return r["read_ratio"]
    return str(x)


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "header":
        print(",".join(COLS))
        return 0
    if cmd == "record":
        return record(args)
    if cmd == "ref-rate":
        return ref_rate(args)
    if cmd == "report":
        return report(args)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
