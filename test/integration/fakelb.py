"""Plays the LB (and agent) towards one dalio-replica on loopback for the
replica smoke tests (test_replica_smoke.sh, test_replica_vr_smoke.sh):
crafted Dalio datagrams out, parsed answers in, checks that count, and
redis-cli on the replica's Redis. The wire layout is include/dalio/wire.h.
Call init() first."""
import socket, struct, subprocess, sys, time

HDR = "!IBBHHHIQQQQIH6sBBH"
assert struct.calcsize(HDR) == 64
NACK = 10
SHARD = 3

name, rport, checks = "replica_smoke", 0, 0
nacks = []  # (arrival time, NACK): set aside by recv, checked where expected
lb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
lb.bind(("127.0.0.1", 0))
dst = None


def init(test_name, redis_port, replica_port):
    global name, rport, dst
    name, rport, dst = test_name, redis_port, ("127.0.0.1", replica_port)


def fail(msg):
    print(f"{name}: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    global checks
    if not cond:
        fail(msg)
    checks += 1


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def pkt(typ, cmd=(), seq=0, stamp=0, epoch=1, shard=SHARD, rid=1, key=None, cid=0xC11E):
    body = resp(*cmd) if cmd else b""
    if key is None:
        key = (cmd[1] if len(cmd) > 1 else "").encode() if cmd else b""
    hdr = struct.pack(HDR, 0x444C494F, 1, typ, 0, shard, len(key), epoch,
                      cid, rid, seq, stamp, 0x0A000001, 4242, b"\x02" * 6, 0, 0, 0)
    return hdr + key + body


def parse(data):
    f = struct.unpack(HDR, data[:64])
    return dict(type=f[2], shard=f[4], key_len=f[5], epoch=f[6], client_id=f[7],
                request_id=f[8], seq=f[9], stamp=f[10], origin_ip=f[11],
                origin_port=f[12], origin_mac=f[13], replica=f[14], status=f[15],
                key=data[64:64 + f[5]], body=data[64 + f[5]:])


def send(p, sock=lb):
    sock.sendto(p, dst)


def recv(timeout=1.0):
    deadline = time.monotonic() + timeout
    while True:
        lb.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            m = parse(lb.recv(2048))
        except socket.timeout:
            return None
        if m["type"] != NACK:
            return m
        nacks.append((time.monotonic(), m))


def expect(n, what, timeout=1.0):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        m = recv(max(0.01, deadline - time.monotonic()))
        if m:
            got.append(m)
    check(len(got) == n, f"{what}: expected {n} answers, got {len(got)}: {got}")
    return got


def silence(what, timeout=0.3):
    m = recv(timeout)
    check(m is None, f"{what}: expected no answer, got {m}")


def rcli(*args):
    return subprocess.run(["redis-cli", "-p", str(rport), *args], capture_output=True,
                          text=True, timeout=5).stdout.strip()
