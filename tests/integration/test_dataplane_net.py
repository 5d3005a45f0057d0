#!/usr/bin/env python3
"""The data plane's network base in the netns lab: ARP, ping, steering,
neighbours, routes, counters, malformed frames, clean shutdown.

Usage: test_dataplane_net.py <path to postmuxctl>   (the argument is ignored)
Environment: PM_DATAPLANE and PM_CONTROL (the binaries), PM_WORKERS (worker
       lcores, default 1; 2 also uses hugepages when the machine has them).
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr): not root, or the
       lab cannot be made. With fewer CPUs than 1 + PM_WORKERS, lcores share
       CPUs (EAL --lcores).

With a lab of its own (scripts/netns-lab --prefix n<W><pid % 1000>):
- The backend namespace also holds 198.51.100.253 (a gateway) and
  203.0.113.10 on its loopback (a backend on another subnet, reached
  through postmux_route = 203.0.113.0/24 via 198.51.100.253).
- postmux-control with director_mail_servers = 198.51.100.1 203.0.113.10,
  and postmux-dataplane with two net_af_packet ports (qpairs = workers):
  client (192.0.2.1/24 plus the VIP 192.0.2.10) and backend
  (198.51.100.254/24), and a net_pcap port "replay" (10.255.0.1/24, one
  capture file per queue, written to files only, with an IMAP listener)
  that feeds the malformed frames (TCP ones too: short, bad data offset,
  bad option lengths, bad checksums, an ACK with a wrong cookie);
  telemetry on.
Checks (with 1 worker, first: a port whose interface does not exist, a PCI
address that is not there, more
workers than CPUs, an lcore list naming a missing CPU, and too little memory
for the mbuf pool each make the data plane exit 1 with a clear message):
1. From 16 client addresses, ICMP echo to the port address and to the VIP:
   every request answered, byte-exact. With 2 workers both lcores answer
   some (ownership by Toeplitz hash) and af_packet's kernel-hash spreading
   makes some packets arrive on the wrong lcore: redirected > 0.
2. Every worker's neighbour table (telemetry /postmux/neigh) resolves the
   backend 198.51.100.1 and the gateway 198.51.100.253 to the backend
   veth's MAC, and has no entry for 203.0.113.10 (it is behind the
   gateway); /postmux/routes lists the static route.
3. A replay of malformed frames through the pcap port (runts, truncated
   IPv4 headers, bad header and ICMP checksums, bogus lengths, fragments,
   IP options, bad ARP, random bytes): each reason's drop counter equals
   what was sent, the process lives, and ping is still answered afterwards.
   (Not through af_packet: its fanout defragments, so fragments would never
   arrive.)
   The data plane's own echo requests (telemetry /postmux/ping) reach the
   routed backend through the gateway; one to a host not yet resolved waits
   in the neighbour queue and goes after the ARP answer; one to an address
   nobody holds is dropped as NEIGH_UNRESOLVED after the retries, and the
   next is refused at once; one with no route counts NO_ROUTE.
4. dpdk-telemetry.py (Debian's dpdk-dev) reads the counters.
5. SIGTERM: exit 0, no error in the log, no hugepage file left (with 2
   workers the data plane ran on hugepages, --in-memory, when there were
   free ones and the build is not ASan's), no DPDK runtime files of our
   prefix left; `netns-lab down` always runs
   and leaves no namespace behind.
"""

import glob
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
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
WORKERS = int(os.environ.get("PM_WORKERS", "1"))
PREFIX = "n%d%d" % (WORKERS, os.getpid() % 1000)
PORT_ADDR = "192.0.2.1"
VIP = "192.0.2.10"
BACKEND = "198.51.100.1"
GATEWAY = "198.51.100.253"
FAR_BACKEND = "203.0.113.10"
NEW_HOST = "198.51.100.2"      # in the backend namespace, not a backend
NOBODY = "198.51.100.99"       # on the backend subnet, nobody answers
SOURCES = ["192.0.2.%d" % i for i in range(100, 116)]

# Runs inside the client namespace: from each source address, one echo
# request to each destination; prints the number of exact replies.
PINGER = r"""
import os, socket, struct, sys

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff

dsts, srcs = sys.argv[1].split(","), sys.argv[2].split(",")
ok = total = 0
lost = []
for si, src in enumerate(srcs):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.bind((src, 0))
    s.settimeout(1.0)
    for di, dst in enumerate(dsts):
        total += 1
        ident, seq = (os.getpid() + si) & 0xffff, di + 1
        data = b"postmux-%s-%s" % (src.encode(), dst.encode())
        c = csum(struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data)
        s.sendto(struct.pack("!BBHHH", 8, 0, c, ident, seq) + data, (dst, 0))
        got = False
        while True:
            try:
                pkt, a = s.recvfrom(2048)
            except socket.timeout:
                break
            ihl = (pkt[0] & 15) * 4
            t, code, ck, i, sq = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
            if (a[0] == dst and t == 0 and code == 0 and i == ident and sq == seq
                    and pkt[ihl + 8:] == data and csum(pkt[ihl:]) == 0
                    and socket.inet_ntoa(pkt[16:20]) == src):
                ok += 1
                got = True
                break
        if not got:
            lost.append("%s>%s" % (src, dst))
    s.close()
print("%d/%d" % (ok, total))
if lost:
    print("lost: " + " ".join(lost), file=sys.stderr)
"""

# Runs inside the client namespace: sends the malformed frames given as hex
# lines on stdin through a packet socket on the interface argv[1].
REPLAY = r"""
import socket, sys
p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
p.bind((sys.argv[1], 0))
n = 0
for line in sys.stdin:
    line = line.strip()
    if line:
        p.send(bytes.fromhex(line))
        n += 1
print(n)
"""


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = 0
    for i in range(0, len(b), 2):
        s += b[i] << 8 | b[i + 1]
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def ipv4(src, dst, payload, proto=1, flags_frag=0, tot=None, opts=b"",
         ihl=None, version=4, bad_csum=False):
    hl = 20 + len(opts)
    if ihl is None:
        ihl = hl // 4
    tot = hl + len(payload) if tot is None else tot
    h = bytes([version << 4 | ihl, 0]) + tot.to_bytes(2, "big") + \
        b"\x12\x34" + flags_frag.to_bytes(2, "big") + bytes([64, proto]) + \
        b"\0\0" + socket.inet_aton(src) + socket.inet_aton(dst) + opts
    c = csum(h)
    if bad_csum:
        c ^= 0x5555
    return h[:10] + c.to_bytes(2, "big") + h[12:] + payload


def echo(data=b"abcdefgh", bad=False):
    body = b"\x08\x00\0\0\x00\x01\x00\x01" + data
    c = csum(body) ^ (0x1111 if bad else 0)
    return body[:2] + c.to_bytes(2, "big") + body[4:]


def tcp(src, dst, sport=40000, dport=143, seq=1000, ack=0, flags=0x10, opts=b"",
        payload=b"", doff=None, bad_csum=False):
    """A TCP segment with a correct checksum (unless @bad_csum)."""
    hl = 20 + len(opts)
    doff = hl // 4 if doff is None else doff
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 8192, 0, 0) + opts
    seg = h + payload
    c = csum(socket.inet_aton(src) + socket.inet_aton(dst) +
             struct.pack("!BBH", 0, 6, len(seg)) + seg)
    if bad_csum:
        c ^= 0x0f0f
    return seg[:16] + c.to_bytes(2, "big") + seg[18:]


REPLAY_ADDR = "10.255.0.1"


def malformed(dmac, smac, src, PORT_ADDR=REPLAY_ADDR):
    """(reason, frame) pairs: every frame is dropped for that reason."""
    eth = dmac + smac + b"\x08\x00"
    out = [("ETH_SHORT", dmac + smac[:3]), ("ETH_SHORT", dmac + smac + b"\x08")]
    for _ in range(3):
        out.append(("IP_SHORT", eth + ipv4(src, PORT_ADDR, echo())[:12]))
        out.append(("IP_VERSION", eth + ipv4(src, PORT_ADDR, echo(), version=6)))
        out.append(("IP_HDR_LEN", eth + ipv4(src, PORT_ADDR, echo(), ihl=4)))
        out.append(("IP_TOTAL_LEN", eth + ipv4(src, PORT_ADDR, echo(), tot=400)))
        out.append(("IP_TOTAL_LEN", eth + ipv4(src, PORT_ADDR, echo(), tot=10)))
        out.append(("IP_CSUM", eth + ipv4(src, PORT_ADDR, echo(), bad_csum=True)))
        out.append(("IP_FRAG", eth + ipv4(src, PORT_ADDR, echo(), flags_frag=0x2000)))
        out.append(("IP_FRAG", eth + ipv4(src, PORT_ADDR, echo(), flags_frag=0x0010)))
        out.append(("IP_OPTIONS", eth + ipv4(src, PORT_ADDR, echo(),
                                             opts=b"\x01\x01\x01\x00")))
        out.append(("IP_NOT_US", eth + ipv4(src, "10.255.0.77", echo())))
        out.append(("IP_PROTO", eth + ipv4(src, PORT_ADDR, b"\0" * 8, proto=17)))
        out.append(("ICMP_CSUM", eth + ipv4(src, PORT_ADDR, echo(bad=True))))
        out.append(("ICMP_SHORT", eth + ipv4(src, PORT_ADDR, b"\x08\x00\xf7")))
        arp = (b"\x00\x01\x08\x00\x06\x04\x00\x01" + smac + socket.inet_aton(src) +
               b"\0" * 6 + socket.inet_aton("10.255.0.99"))
        out.append(("ARP_NOT_US", b"\xff" * 6 + smac + b"\x08\x06" + arp))
        out.append(("ARP_SHORT", b"\xff" * 6 + smac + b"\x08\x06" + arp[:20]))
        out.append(("ARP_BAD", b"\xff" * 6 + smac + b"\x08\x06" + arp[:7] + b"\x09" +
                    arp[8:]))
        out.append(("ETH_TYPE", dmac + smac + b"\x81\x00" + b"\0" * 46))
        # TCP to the replay port's IMAP listener.
        seg = tcp(src, PORT_ADDR)
        out.append(("TCP_SHORT", eth + ipv4(src, PORT_ADDR, seg[:12], proto=6)))
        out.append(("TCP_HDR_LEN", eth + ipv4(src, PORT_ADDR, tcp(src, PORT_ADDR, doff=4),
                                              proto=6)))
        out.append(("TCP_HDR_LEN", eth + ipv4(src, PORT_ADDR, tcp(src, PORT_ADDR, doff=15),
                                              proto=6)))
        out.append(("TCP_OPTION", eth + ipv4(src, PORT_ADDR, tcp(
            src, PORT_ADDR, flags=0x02, opts=b"\x02\x01\x05\x00"), proto=6)))
        out.append(("TCP_OPTION", eth + ipv4(src, PORT_ADDR, tcp(
            src, PORT_ADDR, flags=0x02, opts=b"\x03\x09\x00\x00"), proto=6)))
        out.append(("TCP_CSUM", eth + ipv4(src, PORT_ADDR, tcp(
            src, PORT_ADDR, flags=0x02, bad_csum=True), proto=6)))
        out.append(("TCP_CSUM", eth + ipv4(src, PORT_ADDR, tcp(
            src, PORT_ADDR, payload=b"a LOGIN x y\r\n", bad_csum=True), proto=6)))
        # An ACK whose cookie is wrong (a blind handshake, or a stray one).
        out.append(("TCP_COOKIE", eth + ipv4(src, PORT_ADDR, tcp(
            src, PORT_ADDR, ack=0x12345678, payload=b"a LOGIN x y\r\n"), proto=6)))
    return out


def random_frames(dmac, smac, rng, n):
    """Random bytes behind an IPv4 or ARP ethertype: dropped, the reason
    varies."""
    out = []
    for _ in range(n):
        t = rng.choice([b"\x08\x00", b"\x08\x06"])
        out.append(dmac + smac + t + bytes(rng.getrandbits(8)
                                           for _ in range(rng.randint(0, 200))))
    return out


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i, len(fr), len(fr)) + fr)


def run(args, **kw):
    kw.setdefault("timeout", 60)
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


def telemetry_path(prefix):
    return "/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix


def telemetry(prefix, cmd):
    """One telemetry command over the socket; returns the reply's value."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(telemetry_path(prefix))
    hello = json.loads(s.recv(1 << 16).decode())
    s.send(cmd.encode())
    reply = json.loads(s.recv(hello.get("max_output_len", 16384) + 1024).decode())
    s.close()
    return reply[cmd.split(",")[0]]


def counters(prefix, pfx=""):
    """Counters by their postmux names (telemetry spells '.' as '/')."""
    v = telemetry(prefix, "/postmux/counters," + pfx if pfx else "/postmux/counters")
    return {k.replace("/", "."): n for k, n in v.items()}


def neigh_table(prefix, worker):
    """{"<port>/<addr>": "<mac> <state> ..."} from /postmux/neigh."""
    out = {}
    for line in telemetry(prefix, "/postmux/neigh,%d" % worker):
        port, addr, rest = line.split(" ", 2)
        out[port + "/" + addr] = rest
    return out


def hugepages_total():
    try:
        with open("/proc/meminfo") as f:
            mi = dict(line.split(":", 1) for line in f)
        return int(mi["HugePages_Total"].split()[0]), int(mi["HugePages_Free"].split()[0])
    except (OSError, KeyError, ValueError):
        return 0, 0


def hugetlb_kb(pid):
    """kB of hugetlb pages that process @pid maps."""
    kb = 0
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                if line.startswith(("Shared_Hugetlb:", "Private_Hugetlb:")):
                    kb += int(line.split()[1])
    except OSError:
        pass
    return kb


def asan_build(binary):
    r = run(["ldd", binary])
    return "libasan" in r.stdout


def main():
    if os.geteuid() != 0:
        skip("needs root (netns, veth, af_packet)")
    dp, ctl = os.environ.get("PM_DATAPLANE"), os.environ.get("PM_CONTROL")
    if not dp or not ctl:
        skip("PM_DATAPLANE or PM_CONTROL is not set")
    if WORKERS == 1:
        startup_errors(dp)
    r = run([LAB, "up", "--prefix", PREFIX, "--backends", "1"])
    try:
        if r.returncode != 0:
            skip("netns-lab up failed: %s" % r.stderr.strip())
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines()
                  if "=" in line)
        body(dp, ctl, kv)
    finally:
        run([LAB, "down", "--prefix", PREFIX])
        left = [n for n in run(["ip", "netns", "list"]).stdout.split()
                if n.startswith(PREFIX + "-")]
        check(not left, "netns-lab down leaves no namespace: %s" % left)
    info(pmtest.summary())
    return pmtest.status()


def startup_errors(dp):
    """Broken port, lcore and memory settings: exit 1 with a clear message."""
    bad_cpu = max(os.sched_getaffinity(0)) + 1
    with tempfile.TemporaryDirectory(prefix="pm-net-err-") as tmp:
        empty = os.path.join(tmp, "empty.pcap")
        write_pcap(empty, [])
        eal = "--no-huge --no-pci --no-shconf --no-telemetry --file-prefix pme%s" % PREFIX
        pcap_port = "postmux_port = a net_pcap0,rx_pcap=%s,tx_pcap=%s/out.pcap 10.255.0.1/24" \
            % (empty, tmp)
        cases = [
            ("a port whose interface does not exist",
             ["postmux_dpdk_args = %s -m 256" % eal,
              "postmux_port = a net_af_packet0,iface=pmnosuch0 10.255.0.1/24"],
             "port a: no device net_af_packet0"),
            ("a NIC (PCI address) that is not there or not bound to a DPDK driver",
             ["postmux_dpdk_args = %s -m 256" % eal.replace("--no-pci ", ""),
              "postmux_port = a 0000:ff:1f.7 10.255.0.1/24"],
             "port a: no device 0000:ff:1f.7"),
            ("more workers than CPUs",
             ["postmux_dpdk_args = %s -m 256" % eal, pcap_port, "postmux_lcores = 64"],
             "postmux_lcores = 64 needs 65 CPUs"),
            ("an lcore list naming a CPU the machine lacks",
             ["postmux_dpdk_args = %s -m 256 --lcores 0@0,1@%d" % (eal, bad_cpu), pcap_port],
             "names CPU %d, which this process may not use" % bad_cpu),
            ("too little memory for the mbufs",
             ["postmux_dpdk_args = %s -m 24" % eal, pcap_port],
             "cannot create the mbuf pool"),
        ]
        for what, lines, want in cases:
            conf = os.path.join(tmp, "postmux.conf")
            with open(conf, "w") as f:
                f.write("postmux_control_socket = %s/control\n" % tmp)
                f.write("\n".join(lines) + "\n")
            r = run([dp, "-c", conf], timeout=60)
            msg = [ln for ln in r.stderr.splitlines() if " error: " in ln]
            check(r.returncode == 1 and any(want in ln for ln in msg),
                  "%s: exit 1 (got %d) with %r: %s" % (what, r.returncode, want, msg))


def wait_for(pred, timeout, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def body(dp, ctl, kv):
    cns, cif, cdp = kv["client_ns"], kv["client_if"], kv["client_dp_if"]
    bns, bif, bdp = kv["backend_ns"], kv["backend_if"], kv["backend_dp_if"]
    # The gateway and the far backend, inside the backend namespace.
    for args in (["addr", "add", GATEWAY + "/24", "dev", bif],
                 ["addr", "add", NEW_HOST + "/24", "dev", bif],
                 ["addr", "add", FAR_BACKEND + "/32", "dev", "lo"]):
        r = run(["ip", "-n", bns] + args)
        check(r.returncode == 0, "ip %s: %s" % (" ".join(args), r.stderr))
    for a in SOURCES:
        run(["ip", "-n", cns, "addr", "add", a + "/24", "dev", cif])
    bmac = run(["ip", "netns", "exec", bns, "cat",
                "/sys/class/net/%s/address" % bif]).stdout.strip()
    cmac = run(["ip", "netns", "exec", cns, "cat",
                "/sys/class/net/%s/address" % cif]).stdout.strip()

    total, free = hugepages_total()
    huge = WORKERS > 1 and free >= 128 and not asan_build(dp)
    eal = ("--in-memory -m 256 --no-pci" if huge
           else "--no-huge -m 256 --no-pci --no-shconf")
    info("%d worker(s); EAL: %s (hugepages %d/%d free)" % (WORKERS, eal, free, total))
    # The main lcore and the workers, one CPU each while there are enough;
    # on a smaller machine (CI has 2 CPUs) lcores share CPUs round-robin:
    # slower polling, same behaviour.
    cpus = sorted(os.sched_getaffinity(0))
    lcores = ",".join("%d@%d" % (i, cpus[i % len(cpus)]) for i in range(1 + WORKERS))
    eal += " --lcores " + lcores
    runtime = "/var/run/dpdk/pm%s" % PREFIX
    tmp = tempfile.mkdtemp(prefix="pm-net-")
    procs = []
    # The malformed frames, split over one capture file per queue.
    frames = malformed(b"\x02\0\0\0\0\x01", b"\x02\0\0\0\0\x02", "10.255.0.2")
    pcap = []
    for q in range(WORKERS):
        rx, tx = os.path.join(tmp, "rx%d.pcap" % q), os.path.join(tmp, "tx%d.pcap" % q)
        write_pcap(rx, [f for i, (_, f) in enumerate(frames) if i % WORKERS == q])
        pcap.append("rx_pcap=%s,tx_pcap=%s" % (rx, tx))
    try:
        conf = os.path.join(tmp, "postmux.conf")
        with open(conf, "w") as f:
            f.write("director_mail_servers = %s %s\n" % (BACKEND, FAR_BACKEND))
            f.write("postmux_admin_socket = %s/admin\n" % tmp)
            f.write("postmux_control_socket = %s/control\n" % tmp)
            f.write("postmux_state_file = %s/state\n" % tmp)
            f.write("postmux_dpdk_args = %s --file-prefix pm%s\n" % (eal, PREFIX))
            qp = ",qpairs=%d" % WORKERS if WORKERS > 1 else ""
            f.write("postmux_port = client net_af_packet0,iface=%s%s %s/24\n"
                    % (cdp, qp, PORT_ADDR))
            f.write("postmux_port = backend net_af_packet1,iface=%s%s 198.51.100.254/24\n"
                    % (bdp, qp))
            f.write("postmux_port = replay net_pcap0,%s %s/24\n"
                    % (",".join(pcap), REPLAY_ADDR))
            f.write("postmux_vip = client %s\n" % VIP)
            f.write("postmux_listener = %s 143 imap\n" % REPLAY_ADDR)
            f.write("postmux_sessions = 64\npostmux_prelogin_sessions = 4\n")
            f.write("postmux_route = 203.0.113.0/24 via %s\n" % GATEWAY)
            f.write("postmux_lcores = %d\n" % WORKERS)
            f.write("postmux_arp_retrans_time = 200 ms\n")
        clog = os.path.join(tmp, "control.log")
        dlog = os.path.join(tmp, "dataplane.log")
        with open(clog, "w") as lf:
            procs.append(subprocess.Popen([ctl, "-c", conf], stdin=subprocess.DEVNULL,
                                          stdout=lf, stderr=lf))
        with open(dlog, "w") as lf:
            procs.append(subprocess.Popen([dp, "-c", conf], stdin=subprocess.DEVNULL,
                                          stdout=lf, stderr=lf))
        proc = procs[1]
        started = wait_for(lambda: "started (3 port(s)" in open(dlog).read()
                           or proc.poll() is not None, 30)
        log = open(dlog).read()
        if not check(started and proc.poll() is None,
                     "data plane starts with its ports: %s" % log):
            return
        m = re.search(r"port client .*MAC ([0-9A-F:]{17})", log)
        dmac = bytes.fromhex(m.group(1).replace(":", "")) if m else b"\xff" * 6
        ok = wait_for(lambda: os.path.exists(telemetry_path("pm" + PREFIX)), 10)
        if not check(ok, "telemetry socket %s" % telemetry_path("pm" + PREFIX)):
            return
        if huge:
            used = hugetlb_kb(proc.pid)
            check(used > 0, "the data plane runs on hugepages (%d kB mapped)" % used)
        checks(cns, cif, bmac, cmac, dmac, proc, frames)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        rc = None
        for p in reversed(procs):
            try:
                r = p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                r = p.wait()
            if p is procs[-1]:
                rc = r
        if len(procs) == 2:
            check(rc == 0, "SIGTERM: the data plane exits 0 (got %s)" % rc)
            log = open(os.path.join(tmp, "dataplane.log")).read()
            sys.stdout.write(log)
            check(" error:" not in log and "FATAL" not in log and
                  "ERROR: AddressSanitizer" not in log and "runtime error" not in log,
                  "no error in the data plane's log")
            check(re.search(r"worker 0 .*echo_replies [1-9]", log) is not None,
                  "worker 0's counters are logged at exit")
            after_total, after_free = hugepages_total()
            # Other programs may take hugepages meanwhile: only informative.
            info("hugepages free after exit: %d (before: %d)" % (after_free, free))
            files = glob.glob("/dev/hugepages/pm%s*" % PREFIX)
            check(not files, "no hugepage files left: %s" % files)
            rest = glob.glob(runtime + "/*")
            check(not rest, "no DPDK runtime files left in %s: %s" % (runtime, rest))
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.isdir(runtime) and not os.listdir(runtime):
            os.rmdir(runtime)


def ping_all(cns, n_expected):
    r = run(["ip", "netns", "exec", cns, sys.executable, "-c", PINGER,
             PORT_ADDR + "," + VIP, ",".join(SOURCES)], timeout=120)
    return r.stdout.strip(), r.stderr.strip()


def checks(cns, cif, bmac, cmac, dmac, proc, frames):
    pfx = "pm" + PREFIX
    # 1. Ping from every source to the port address and the VIP.
    want = "%d/%d" % (2 * len(SOURCES), 2 * len(SOURCES))
    got, err = ping_all(cns, 2 * len(SOURCES))
    check(got == want, "every echo request answered byte-exact: %s (want %s) %s"
          % (got, want, err))
    c = counters(pfx, "lcore.")
    per = [c.get("lcore.%d.echo_replies" % w, 0) for w in range(WORKERS)]
    redirected = sum(c.get("lcore.%d.redirected" % w, 0) for w in range(WORKERS))
    info("echo replies per lcore %s, redirected %d" % (per, redirected))
    check(sum(per) >= 2 * len(SOURCES), "lcores counted %d echo replies" % sum(per))
    if WORKERS > 1:
        check(all(x > 0 for x in per), "every lcore owns some flows: %s" % per)
        check(redirected > 0, "packets on the wrong lcore were redirected: %d" % redirected)

    # 2. Neighbours: the backend and the gateway, on every lcore.
    def resolved():
        tables = [neigh_table(pfx, w) for w in range(WORKERS)]
        return tables if all(
            ("backend/" + BACKEND) in t and ("backend/" + GATEWAY) in t and
            " reachable " in t["backend/" + BACKEND] and
            " reachable " in t["backend/" + GATEWAY] for t in tables) else None
    tables = wait_for(resolved, 15, 0.2)
    if not tables:
        tables = [neigh_table(pfx, w) for w in range(WORKERS)]
    info("neighbour tables: %s" % tables)
    check(tables is not None and all(
        t.get("backend/" + BACKEND, "").startswith(bmac + " reachable") and
        t.get("backend/" + GATEWAY, "").startswith(bmac + " reachable")
        for t in tables), "every lcore resolved %s and %s to %s" % (BACKEND, GATEWAY, bmac))
    check(all(("backend/" + FAR_BACKEND) not in t for t in tables),
          "no ARP entry for %s (behind the gateway)" % FAR_BACKEND)
    check(any(t.get("client/" + s, "").startswith(cmac) for t in tables for s in SOURCES),
          "clients that asked for our MAC were learned")
    routes = telemetry(pfx, "/postmux/routes")
    info("routes: %s" % routes)
    check("203.0.113.0/24 backend via " + GATEWAY in routes,
          "route 203.0.113.0/24 via the gateway: %s" % routes)
    # 2b. The data plane's own packets: /postmux/ping from worker 0.
    def dp_ping(addr):
        return telemetry(pfx, "/postmux/ping," + addr)

    r = dp_ping(FAR_BACKEND)
    check(r.get("result") == "answered",
          "ping %s through the gateway: %s" % (FAR_BACKEND, r))
    time.sleep(0.3)    # the table's counters are copied every 100 ms
    before = counters(pfx, "lcore.0.")
    r = dp_ping(NEW_HOST)
    time.sleep(0.3)
    after = counters(pfx, "lcore.0.")
    check(r.get("result") == "answered", "ping %s (not yet resolved): %s" % (NEW_HOST, r))
    check(after["lcore.0.neigh_held"] > before["lcore.0.neigh_held"] and
          after["lcore.0.neigh_released"] > before["lcore.0.neigh_released"],
          "the echo request waited for ARP and was then sent (held %d->%d, released %d->%d)"
          % (before["lcore.0.neigh_held"], after["lcore.0.neigh_held"],
             before["lcore.0.neigh_released"], after["lcore.0.neigh_released"]))
    d0 = counters(pfx, "drop.")
    r = dp_ping(NOBODY)
    check(r.get("result") == "no answer", "ping %s (nobody there): %s" % (NOBODY, r))
    failed = wait_for(lambda: counters(pfx, "drop.")["drop.NEIGH_UNRESOLVED"] >
                      d0["drop.NEIGH_UNRESOLVED"], 5)
    check(failed, "the held request was dropped as NEIGH_UNRESOLVED after the ARP retries")
    r = dp_ping(NOBODY)
    check(r.get("result") == "No route to host",
          "ping %s again while it counts as failed: %s" % (NOBODY, r))
    r = dp_ping("10.1.2.3")
    check(r.get("result") == "Network is unreachable", "ping with no route: %s" % r)
    check(counters(pfx, "drop.")["drop.NO_ROUTE"] == d0["drop.NO_ROUTE"] + 1,
          "NO_ROUTE counted once")
    c = counters(pfx, "lcore.")
    check(sum(c.get("lcore.%d.ping_replies" % w, 0) for w in range(WORKERS)) == 2,
          "2 echo replies to the data plane's own requests")

    c = counters(pfx, "lcore.0.")
    check(c.get("lcore.0.backends") == 2, "lcore 0 keeps 2 backends resolved: %s"
          % c.get("lcore.0.backends"))
    check(c.get("lcore.0.arp_requests", 0) >= 3,
          "gratuitous ARP for 3 addresses and probes sent: %s" % c.get("lcore.0.arp_requests"))

    # 3. Malformed frames: the pcap port replayed them at start.
    def replayed():
        c = counters(pfx, "lcore.")
        n = sum(c.get("lcore.%d.port.replay.rx_packets" % w, 0) for w in range(WORKERS))
        return n if n >= len(frames) else None
    n = wait_for(replayed, 10)
    check(n == len(frames), "the pcap port delivered all %d frames (%s)" % (len(frames), n))
    want = {}
    for reason, _ in frames:
        want[reason] = want.get(reason, 0) + 1
    after = counters(pfx, "drop.")
    for reason, n in sorted(want.items()):
        d = after.get("drop." + reason, 0)
        # These also count what the namespaces' kernels send (ARP between
        # their addresses, multicast): at least, not exactly.
        if reason in ("ETH_TYPE", "ARP_NOT_US", "IP_NOT_US"):
            check(d >= n, "drop.%s is %d (replayed %d)" % (reason, d, n))
        else:
            check(d == n, "drop.%s is exactly %d (got %d)" % (reason, n, d))
    c = counters(pfx, "lcore.")
    check(sum(c.get("lcore.%d.echo_replies" % w, 0) for w in range(WORKERS)) ==
          2 * len(SOURCES), "no malformed echo request was answered")

    # Random bytes from the client namespace through af_packet.
    seed = int(os.environ.get("PM_SEED", "0")) or random.randrange(1, 1 << 30)
    info("random frames: PM_SEED=%d" % seed)
    rng = random.Random(seed)
    rand = random_frames(dmac, bytes.fromhex(cmac.replace(":", "")), rng, 200)
    before = counters(pfx, "drop.")
    rx_before = sum(v for k, v in counters(pfx, "lcore.").items() if k.endswith(".rx"))
    lines = "\n".join(f.hex() for f in rand) + "\n"
    r = run(["ip", "netns", "exec", cns, sys.executable, "-c", REPLAY, cif], input=lines)
    check(r.stdout.strip() == str(len(rand)), "random frames sent: %s %s"
          % (r.stdout.strip(), r.stderr.strip()))

    def settled():
        a = counters(pfx, "drop.")
        return a if sum(a.values()) - sum(before.values()) >= len(rand) else None
    after = wait_for(settled, 5) or counters(pfx, "drop.")
    grew = sum(after.values()) - sum(before.values())
    check(grew >= len(rand), "every random frame dropped and counted: %d of %d"
          % (grew, len(rand)))
    rx_after = sum(v for k, v in counters(pfx, "lcore.").items() if k.endswith(".rx"))
    check(rx_after - rx_before >= len(rand),
          "the lcores received them all: %d" % (rx_after - rx_before))
    check(proc.poll() is None, "the data plane survived the replay")
    got, err = ping_all(cns, 2 * len(SOURCES))
    check(got == "%d/%d" % (2 * len(SOURCES), 2 * len(SOURCES)),
          "ping still answered after the replay: %s %s" % (got, err))

    # 4. dpdk-telemetry.py, Debian's client.
    tool = shutil.which("dpdk-telemetry.py")
    if check(tool is not None, "dpdk-telemetry.py is installed (dpdk-dev)"):
        r = run([sys.executable, tool, "-f", pfx], input="/postmux/counters,port.client.\n")
        try:
            out = json.loads(r.stdout.strip().splitlines()[-1])
            v = out["/postmux/counters"]["port/client/rx_packets"]
        except (ValueError, KeyError, IndexError):
            v = None
        check(isinstance(v, int) and v > 0,
              "dpdk-telemetry.py reads port/client/rx_packets: %r %s" % (v, r.stderr))


if __name__ == "__main__":
    sys.exit(main())
