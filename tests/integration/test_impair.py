#!/usr/bin/env python3
"""The lab's packet impairment: scripts/netns-lab up --impair with the relay
tests/tools/impair, and scripts/netns-lab loss (nftables).

Usage: test_impair.py <path to postmuxctl>   (the argument is ignored)
Environment: PM_DATAPLANE (postmux-dataplane), PM_IMPAIR (the relay).
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr): not root, or the
       lab cannot be made. A missing nft is a failure (scripts/setup
       installs nftables).

With a lab of its own (netns-lab up --impair --prefix i<pid % 10000>):
1. The relay namespaces and links exist and are named as documented; the
   relay ends have no address, IPv6 off, GRO/GSO/TSO off; the root-side
   end's peer is in the relay namespace; a second `up --impair` prints the
   same and exits 0. Errors of the relay: no such interface, bad usage.
2. postmux-dataplane on the client side (net_af_packet on Pc0-dp,
   192.0.2.1/24, as test_dataplane_net.py runs it) answers ICMP echo. The
   client namespace gets a permanent neighbour entry for 192.0.2.1, so that
   only the echo requests and replies cross the relay and its counters can
   be compared exactly.
3. Relay with no impairment: 500 echo requests (bursts of 10), every reply
   arrives exactly once and in order; counters in = out = 500 each way.
4. Relay with drop, dup and reorder 10 % (seed 42): the relay's own counters
   agree with what the client saw: requests in = 500, out = in - dropped +
   duplicated, replies in = requests out, reply frames received = replies
   out; the requests dropped and duplicated are exactly the ones a Python
   replica of the seeded draws predicts (the request stream's order is
   fixed), and so are the requests held back when no hold timed out (a
   busy machine may let one); every predicted dropped request is lost,
   and lost <= both directions' drops; duplicates and out-of-order
   arrivals are seen, and out-of-order first arrivals <= the reordered
   frames of both directions.
5. nftables loss in the client namespace, relay without impairment:
   --dir out 20 %: lost pings = the rule's counter, within 6 sigma of the
   binomial mean, no send error (the sender is not told), the relay read
   only the requests that got out, gso_max_segs 1 on the link; --dir both
   20 %: lost = in + out counters, within 6 sigma of 1 - 0.8^2;
   --percent 0 removes the rules (gso_max_segs 65535 again) and every ping
   is answered.
6. The data plane's echo_replies and rx at exit equal the requests the
   relays let through. SIGTERM: the relay exits 0 and writes its stats, the
   data plane exits 0 with no sanitizer report; nothing runs in the relay
   namespace afterwards; `up` without --impair converts the lab back (the
   relay namespaces go); `netns-lab down` always runs and leaves no
   namespace.
"""

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, info, skip  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LAB = os.path.join(REPO, "scripts", "netns-lab")
PREFIX = "i%d" % (os.getpid() % 10000)
PORT_ADDR = "192.0.2.1"
N = 500
BURST = 10
SEED = 42
PCT = 10
RELAYS = []     # every relay started, so that a failed run still stops them

# Runs inside the client namespace: N echo requests to argv[1] with
# identifier argv[2], seq 1..N, in bursts of BURST with a gap of GAP ms,
# then listens for WAIT s more. Prints JSON: the seq of every valid reply in
# arrival order, how many replies were malformed and how many sends failed.
PINGER = r"""
import json, select, socket, struct, sys, time

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff

dst, ident, n, burst, gap, wait = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                   int(sys.argv[4]), float(sys.argv[5]) / 1000,
                                   float(sys.argv[6]))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.setblocking(False)
arrivals, bad, senderr = [], 0, 0

def data(seq):
    return (b"postmux-impair-%05d-" % seq).ljust(56, b"x")

def drain():
    global bad
    while True:
        try:
            pkt, a = s.recvfrom(2048)
        except BlockingIOError:
            return
        ihl = (pkt[0] & 15) * 4
        t, code, ck, i, sq = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
        if t != 0 or i != ident:
            continue
        if (a[0] == dst and code == 0 and 1 <= sq <= n and pkt[ihl + 8:] == data(sq)
                and csum(pkt[ihl:]) == 0):
            arrivals.append(sq)
        else:
            bad += 1

def listen(until):
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return
        select.select([s], [], [], left)
        drain()

for k in range(0, n, burst):
    for seq in range(k + 1, min(k + burst, n) + 1):
        body = data(seq)
        c = csum(struct.pack("!BBHHH", 8, 0, 0, ident, seq) + body)
        try:
            s.sendto(struct.pack("!BBHHH", 8, 0, c, ident, seq) + body, (dst, 0))
        except OSError:
            senderr += 1
    listen(time.monotonic() + gap)
listen(time.monotonic() + wait)
print(json.dumps({"arrivals": arrivals, "bad": bad, "send_errors": senderr}))
"""

M64 = (1 << 64) - 1


def splitmix64(state):
    """(new state, output): impair.c's splitmix64()."""
    state = (state + 0x9e3779b97f4a7c15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return state, z ^ (z >> 31)


def predict(seed, index, n, drop, dup, reorder):
    """impair.c's decisions for the first n frames of direction index
    (0 a_to_b, 1 b_to_a): (dropped frame numbers, duplicated frame numbers,
    frames held when no hold ever times out), frames numbered from 1."""
    thr = [int(p / 100.0 * 9007199254740992.0) for p in (drop, dup, reorder)]
    _, rng = splitmix64(seed ^ ((0x6a09e667f3bcc909 * (index + 1)) & M64))
    dropped, duplicated, held = [], [], 0
    slot = False
    for f in range(1, n + 1):
        d = []
        for t in thr:
            rng, z = splitmix64(rng)
            d.append((z >> 11) < t)
        if d[0]:
            dropped.append(f)
            continue
        if d[1]:
            duplicated.append(f)
        if d[2] and not slot:
            slot = True
            held += 1
        else:
            slot = False      # this frame releases the held one
    return dropped, duplicated, held


def run(args, **kw):
    kw.setdefault("timeout", 60)
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


def lab(*args):
    return run([LAB] + list(args) + ["--prefix", PREFIX])


def kv_of(out):
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait_for(pred, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def netns_list():
    return {line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines()
            if line.strip()}


def offloads(ns, ifc):
    out = run(["ip", "netns", "exec", ns, "ethtool", "-k", ifc]).stdout
    feats = {}
    for line in out.splitlines():
        if ":" in line and not line.startswith("Features"):
            k, v = line.split(":", 1)
            feats[k.strip()] = v.strip().split(" ")[0]
    return feats


class Relay:
    """One impair process in the client's relay namespace."""

    def __init__(self, impair, kv, tmp, name, args):
        self.stats = os.path.join(tmp, name + ".json")
        self.log = os.path.join(tmp, name + ".log")
        cmd = ["ip", "netns", "exec", kv["client_imp_ns"], impair,
               "--a", kv["client_imp_a"], "--b", kv["client_imp_b"],
               "--stats-file", self.stats] + args
        with open(self.log, "w") as lf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
        RELAYS.append(self)
        self.ready = wait_for(lambda: "relaying" in self.text() or
                              self.proc.poll() is not None, 10) and self.proc.poll() is None

    def text(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        """SIGTERM; returns the stats (None after a failed check)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        check(rc == 0, "impair exits 0 on SIGTERM (got %s): %s" % (rc, self.text()))
        try:
            with open(self.stats) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            check(False, "impair wrote its stats file: %s" % e)
            return None


def ping(cns, ident, wait=1.0):
    r = run(["ip", "netns", "exec", cns, sys.executable, "-c", PINGER, PORT_ADDR,
             str(ident), str(N), str(BURST), "5", str(wait)], timeout=120)
    try:
        res = json.loads(r.stdout)
    except ValueError:
        check(False, "pinger output: %r %r" % (r.stdout, r.stderr))
        return []
    check(res["bad"] == 0, "no malformed echo reply (%d)" % res["bad"])
    # A lost packet must look lost on a wire: the sender is not told.
    check(res["send_errors"] == 0, "every echo request was sent without an error (%d failed)"
          % res["send_errors"])
    return res["arrivals"]


def late_firsts(arrivals):
    """First arrivals of a seq after a higher seq had arrived."""
    seen, top, late = set(), 0, 0
    for sq in arrivals:
        if sq in seen:
            continue
        seen.add(sq)
        if sq < top:
            late += 1
        top = max(top, sq)
    return late


def clean(st, d):
    """The counters that must stay 0 in this lab."""
    return {k: st[d][k] for k in ("overflow", "truncated", "send_errors", "kernel_drops",
                                  "pending") if st[d][k] != 0}


def main():
    if os.geteuid() != 0:
        skip("needs root (netns, veth, af_packet)")
    dp, impair = os.environ.get("PM_DATAPLANE"), os.environ.get("PM_IMPAIR")
    if not dp or not impair:
        skip("PM_DATAPLANE or PM_IMPAIR is not set")
    r = run([LAB, "up", "--impair", "--prefix", PREFIX, "--backends", "1"])
    try:
        if r.returncode != 0:
            skip("netns-lab up --impair failed: %s" % r.stderr.strip())
        kv = kv_of(r.stdout)
        if check_lab(kv, r.stdout):
            body(dp, impair, kv)
            # Back to a lab without relays: the relay namespaces go.
            r = run([LAB, "up", "--prefix", PREFIX, "--backends", "1"])
            check(r.returncode == 0 and "client_imp_ns" not in r.stdout,
                  "up without --impair converts the lab: %s" % r.stderr.strip())
            left = netns_list() & {kv["client_imp_ns"], kv["backend_imp_ns"]}
            check(not left, "the relay namespaces are gone: %s" % left)
            peer = run(["ip", "-o", "link", "show", "dev", kv["client_dp_if"]]).stdout
            check(" link-netns %s " % kv["client_ns"] in peer.strip() + " ",
                  "%s is joined to the client namespace again" % kv["client_dp_if"])
            check(lab("status").returncode == 0, "status exits 0 after the conversion")
    finally:
        run([LAB, "down", "--prefix", PREFIX])
        left = [n for n in netns_list() if n.startswith(PREFIX + "-")]
        check(not left, "netns-lab down leaves no namespace: %s" % left)
    info(pmtest.summary())
    return pmtest.status()


def check_lab(kv, out):
    p = PREFIX
    want = {"client_imp_ns": p + "-cimp", "client_imp_a": p + "ci0",
            "client_imp_b": p + "ci1", "backend_imp_ns": p + "-bimp",
            "backend_imp_a": p + "bi0", "backend_imp_b": p + "bi1",
            "client_dp_if": p + "c0-dp", "client_ns": p + "-client"}
    if not check(all(kv.get(k) == v for k, v in want.items()),
                 "up --impair names the relay parts: %r" % kv):
        return False
    for ns, ends in ((kv["client_imp_ns"], (kv["client_imp_a"], kv["client_imp_b"])),
                     (kv["backend_imp_ns"], (kv["backend_imp_a"], kv["backend_imp_b"]))):
        for ifc in ends:
            addrs = run(["ip", "-n", ns, "-o", "addr", "show", "dev", ifc]).stdout
            check(addrs.strip() == "", "%s in %s has no address: %r" % (ifc, ns, addrs))
            link = run(["ip", "-n", ns, "-o", "link", "show", "dev", ifc]).stdout
            check(re.search(r"[<,]UP[,>]", link) is not None, "%s is up" % ifc)
            f = offloads(ns, ifc)
            check(all(f.get(k) == "off" for k in ("generic-receive-offload",
                                                   "generic-segmentation-offload",
                                                   "tcp-segmentation-offload")),
                  "%s: GRO, GSO, TSO off: %s" % (ifc, f))
            v6 = run(["ip", "netns", "exec", ns, "cat",
                      "/proc/sys/net/ipv6/conf/%s/disable_ipv6" % ifc]).stdout.strip()
            check(v6 in ("1", ""), "%s: IPv6 off (%r)" % (ifc, v6))
    peer = run(["ip", "-o", "link", "show", "dev", kv["client_dp_if"]]).stdout
    check(" link-netns %s " % kv["client_imp_ns"] in peer.strip() + " ",
          "%s's peer is in %s: %s" % (kv["client_dp_if"], kv["client_imp_ns"], peer))
    r = lab("up", "--impair", "--backends", "1")
    check(r.returncode == 0 and kv_of(r.stdout) == kv,
          "a second up --impair exits 0 and prints the same: %s" % r.stderr.strip())
    r = lab("status", "--impair")
    check(r.returncode == 0, "status --impair exits 0: %s" % r.stdout)
    return True


def body(dp, impair, kv):
    cns, cif = kv["client_ns"], kv["client_if"]
    imp_ns = kv["client_imp_ns"]

    r = run(["ip", "netns", "exec", imp_ns, impair, "--a", "nosuch0", "--b",
             kv["client_imp_b"]])
    check(r.returncode == 1 and "no interface 'nosuch0'" in r.stderr,
          "impair: an unknown interface is an error: %d %s" % (r.returncode, r.stderr))
    r = run([impair, "--a", "x", "--b", "y", "--drop", "101"])
    check(r.returncode == 2 and "percentage" in r.stderr,
          "impair: --drop 101 is bad usage: %d %s" % (r.returncode, r.stderr))

    cpus = sorted(os.sched_getaffinity(0))
    lcores = "0@%d,1@%d" % (cpus[0], cpus[1 % len(cpus)])
    tmp = tempfile.mkdtemp(prefix="pm-impair-")
    dproc = None
    sent = 0            # requests the relays let through to the data plane
    try:
        conf = os.path.join(tmp, "postmux.conf")
        with open(conf, "w") as f:
            f.write("postmux_control_socket = %s/control\n" % tmp)
            f.write("postmux_state_file = %s/state\n" % tmp)
            f.write("postmux_dpdk_args = --no-huge -m 256 --no-pci --no-shconf "
                    "--no-telemetry --lcores %s --file-prefix pm%s\n" % (lcores, PREFIX))
            f.write("postmux_port = client net_af_packet0,iface=%s %s/24\n"
                    % (kv["client_dp_if"], PORT_ADDR))
            f.write("postmux_lcores = 1\n")
        dlog = os.path.join(tmp, "dataplane.log")
        with open(dlog, "w") as lf:
            dproc = subprocess.Popen([dp, "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=lf, stderr=lf)
        started = wait_for(lambda: "started (1 port(s)" in open(dlog).read()
                           or dproc.poll() is not None, 30)
        log = open(dlog).read()
        if not check(started and dproc.poll() is None, "data plane starts: %s" % log):
            return
        m = re.search(r"port client .*MAC ([0-9A-F:]{17})", log)
        if not check(m is not None, "the data plane logs its MAC: %s" % log):
            return
        r = run(["ip", "-n", cns, "neigh", "replace", PORT_ADDR, "lladdr", m.group(1).lower(),
                 "dev", cif, "nud", "permanent"])
        check(r.returncode == 0, "permanent neighbour entry: %s" % r.stderr)

        sent += clean_relay(impair, kv, tmp, cns)
        sent += impaired_relay(impair, kv, tmp, cns)
        sent += nft_loss(impair, kv, tmp, cns)

        pids = run(["ip", "netns", "pids", imp_ns]).stdout.split()
        check(not pids, "nothing runs in %s after the relays stopped: %s" % (imp_ns, pids))
    finally:
        for rl in RELAYS:
            if rl.proc.poll() is None:
                rl.proc.kill()
        if dproc is not None:
            if dproc.poll() is None:
                dproc.send_signal(signal.SIGTERM)
            try:
                rc = dproc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                dproc.kill()
                rc = dproc.wait()
            log = open(os.path.join(tmp, "dataplane.log")).read()
            check(rc == 0, "SIGTERM: the data plane exits 0 (got %s)" % rc)
            check("FATAL" not in log and "ERROR: AddressSanitizer" not in log and
                  "runtime error" not in log, "no fatal or sanitizer error in the data "
                  "plane's log")
            m = re.search(r"worker 0 .*: rx (\d+) .* echo_replies (\d+).*; drops: (.*)", log)
            if check(m is not None, "worker 0's counters are logged at exit"):
                # Frames that are not ours (the namespace kernel's own, at
                # times) are dropped and counted: not requests.
                dropped = sum(int(x.split("=")[1]) for x in m.group(3).split()
                              if "=" in x)
                info("data plane: rx %s echo_replies %s drops %s; the relays let %d "
                     "requests through" % (m.group(1), m.group(2), m.group(3), sent))
                check(int(m.group(2)) == sent and int(m.group(1)) - dropped == sent,
                      "the data plane received and answered exactly the %d requests the "
                      "relays let through (rx %s less %d dropped, echo_replies %s)"
                      % (sent, m.group(1), dropped, m.group(2)))
            if pmtest.FAILURES:
                sys.stdout.write(log)
        shutil.rmtree(tmp, ignore_errors=True)
        runtime = "/var/run/dpdk/pm%s" % PREFIX
        if os.path.isdir(runtime) and not os.listdir(runtime):
            os.rmdir(runtime)


def clean_relay(impair, kv, tmp, cns):
    """3. No impairment: everything once and in order. Returns the
    requests that reached the data plane."""
    rl = Relay(impair, kv, tmp, "clean", ["--seed", str(SEED)])
    if not check(rl.ready, "impair starts: %s" % rl.text()):
        rl.stop()
        return 0
    check("impair: seed %d\n" % SEED in rl.text(), "impair prints its seed")
    arrivals = ping(cns, 0x1001)
    st = rl.stop()
    check(arrivals == list(range(1, N + 1)),
          "no impairment: %d replies, every one once and in order (%d distinct, %d late)"
          % (len(arrivals), len(set(arrivals)), late_firsts(arrivals)))
    if st is None:
        return 0
    info("no impairment: %s" % st)
    zero = ("dropped", "duplicated", "reordered", "reorder_timeouts")
    for d in ("a_to_b", "b_to_a"):
        check(st[d]["in"] == N and st[d]["out"] == N and
              all(st[d][k] == 0 for k in zero) and not clean(st, d),
              "no impairment: %s in = out = %d, nothing dropped, duplicated or reordered: %s"
              % (d, N, st[d]))
    return st["a_to_b"]["out"]


def impaired_relay(impair, kv, tmp, cns):
    """4. drop/dup/reorder 10 %, seed 42: the relay's counters agree with
    what the client saw and with the predicted draws."""
    args = ["--drop", str(PCT), "--dup", str(PCT), "--reorder", str(PCT), "--seed", str(SEED)]
    rl = Relay(impair, kv, tmp, "impaired", args)
    if not check(rl.ready, "impair starts: %s" % rl.text()):
        rl.stop()
        return 0
    arrivals = ping(cns, 0x1002)
    st = rl.stop()
    if st is None:
        return 0
    a, b = st["a_to_b"], st["b_to_a"]
    distinct = set(arrivals)
    lost = N - len(distinct)
    dups = len(arrivals) - len(distinct)
    late = late_firsts(arrivals)
    info("impaired: %d reply frames, %d distinct, %d lost, %d duplicates, %d late; relay %s"
         % (len(arrivals), len(distinct), lost, dups, late, st))
    check(not clean(st, "a_to_b") and not clean(st, "b_to_a"),
          "no overflow, truncation, send error, kernel drop, nothing pending: %s %s"
          % (clean(st, "a_to_b"), clean(st, "b_to_a")))
    check(a["in"] == N, "the relay read the %d requests: %d" % (N, a["in"]))
    for d, x in (("a_to_b", a), ("b_to_a", b)):
        check(x["out"] == x["in"] - x["dropped"] + x["duplicated"],
              "%s: out = in - dropped + duplicated: %s" % (d, x))
        check(x["dropped"] > 0 and x["duplicated"] > 0 and x["reordered"] > 0,
              "%s: some frames dropped, duplicated and reordered: %s" % (d, x))
    check(b["in"] == a["out"], "every request that got through was answered: replies in %d,"
          " requests out %d" % (b["in"], a["out"]))
    check(len(arrivals) == b["out"], "the client received every reply frame the relay sent:"
          " %d, relay out %d" % (len(arrivals), b["out"]))
    dropped, duplicated, held = predict(SEED, 0, N, PCT, PCT, PCT)
    check(a["dropped"] == len(dropped) and a["duplicated"] == len(duplicated),
          "the seeded draws: %d requests dropped and %d duplicated predicted, relay %d and %d"
          % (len(dropped), len(duplicated), a["dropped"], a["duplicated"]))
    check(not (set(dropped) & distinct),
          "no reply for any request the draws drop: %s" % sorted(set(dropped) & distinct))
    if a["reorder_timeouts"] == 0:
        check(a["reordered"] == held, "requests held back: %d predicted, relay %d"
              % (held, a["reordered"]))
    check(a["dropped"] <= lost <= a["dropped"] + b["dropped"],
          "lost pings %d between the requests dropped (%d) and all drops (%d)"
          % (lost, a["dropped"], a["dropped"] + b["dropped"]))
    check(dups > 0, "duplicate replies seen: %d" % dups)
    check(0 < late <= a["reordered"] + b["reordered"],
          "out-of-order first arrivals %d, at most the reordered frames %d"
          % (late, a["reordered"] + b["reordered"]))
    return a["out"]


def binomial_ok(lost, p, what):
    mu, sigma = N * p, math.sqrt(N * p * (1 - p))
    info("%s: %d of %d lost (binomial mean %.1f, sigma %.1f)" % (what, lost, N, mu, sigma))
    return check(abs(lost - mu) <= 6 * sigma,
                 "%s: %d of %d lost, binomial mean %.1f, 6 sigma %.1f"
                 % (what, lost, N, mu, 6 * sigma))


def loss(*args):
    r = lab("loss", "--side", "client", *args)
    check(r.returncode == 0, "netns-lab loss %s: %s" % (" ".join(args), r.stderr.strip()))
    return kv_of(r.stdout)


def gso_max_segs(ns, ifc):
    m = re.search(r"gso_max_segs (\d+)", run(["ip", "-d", "-n", ns, "link", "show", "dev",
                                               ifc]).stdout)
    return m.group(1) if m else None


def nft_loss(impair, kv, tmp, cns):
    """5. nftables loss in the client namespace, the relay passing all."""
    if not check(shutil.which("nft") is not None, "nft is installed (scripts/setup)"):
        return 0
    rl = Relay(impair, kv, tmp, "loss", ["--seed", str(SEED)])
    if not check(rl.ready, "impair starts: %s" % rl.text()):
        rl.stop()
        return 0
    total = out_dropped = both_out = 0
    try:
        s = loss("--percent", "20", "--dir", "out")
        check(s.get("loss_percent") == "20" and s.get("loss_dir") == "out" and
              s.get("loss_ns") == cns, "loss 20 %% out is set: %s" % s)
        check(gso_max_segs(cns, kv["client_if"]) == "1",
              "one frame per draw: gso_max_segs 1 on %s" % kv["client_if"])
        arrivals = ping(cns, 0x1003)
        s = loss()
        lost = N - len(set(arrivals))
        check(len(arrivals) == len(set(arrivals)), "loss only: no duplicate reply")
        check(lost == int(s.get("loss_dropped_out", -1)) and s.get("loss_dropped_in") == "0",
              "every lost ping is a request the rule dropped: %d lost, %s" % (lost, s))
        binomial_ok(lost, 0.2, "20 % loss on output")
        out_dropped = int(s.get("loss_dropped_out", 0))

        s = loss("--percent", "20")
        check(s.get("loss_dir") == "both" and s.get("loss_dropped_out") == "0",
              "loss 20 %% both replaces the rule, counters from 0: %s" % s)
        arrivals = ping(cns, 0x1004)
        s = loss()
        lost = N - len(set(arrivals))
        both_out = int(s.get("loss_dropped_out", 0))
        dropped = int(s.get("loss_dropped_in", -1)) + int(s.get("loss_dropped_out", -1))
        check(lost == dropped and int(s["loss_dropped_in"]) > 0,
              "every lost ping is a request or reply the rules dropped: %d lost, %s" % (lost, s))
        binomial_ok(lost, 1 - 0.8 * 0.8, "20 % loss each way")

        s = loss("--percent", "0")
        check(s.get("loss_percent") == "0" and s.get("loss_dir") == "none",
              "--percent 0 removes the rules: %s" % s)
        check(gso_max_segs(cns, kv["client_if"]) == "65535",
              "gso_max_segs back to 65535 on %s" % kv["client_if"])
        r = run(["ip", "netns", "exec", cns, "nft", "list", "ruleset"])
        check(r.stdout.strip() == "", "no nftables ruleset left: %r" % r.stdout)
        arrivals = ping(cns, 0x1005)
        check(arrivals == list(range(1, N + 1)), "without loss every ping is answered: %d"
              % len(arrivals))
    finally:
        st = rl.stop()
    if st is not None:
        a, b = st["a_to_b"], st["b_to_a"]
        total = a["out"]
        check(b["in"] == a["out"] and a["out"] == a["in"] and b["out"] == b["in"],
              "the relay passed everything: %s" % st)
        # Requests: 500 with loss out (some never left), 500 with loss
        # both (the lost replies did cross the relay), 500 without loss.
        check(a["in"] == 3 * N - out_dropped - both_out,
              "the relay read exactly the requests the rules let out: %d = 3 * %d - %d - %d"
              % (a["in"], N, out_dropped, both_out))
    return total


if __name__ == "__main__":
    sys.exit(main())
