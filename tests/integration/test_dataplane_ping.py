#!/usr/bin/env python3
"""postmux-dataplane with a network port answers ARP and ping.

Usage: test_dataplane_ping.py <path to postmuxctl>   (the argument is ignored)
Environment: PM_DATAPLANE, the postmux-dataplane binary.
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr): not root, or the
       lab cannot be made. Runs under ASan/UBSan too (--no-huge EAL).

With a lab of its own (scripts/netns-lab --prefix p<pid % 10000>):
1. A data plane with one port, net_af_packet on the client-side veth end
   (192.0.2.1/24, --no-huge EAL, a file prefix of its own) and a control
   socket path nobody listens on (it keeps retrying, harmlessly).
2. From the client namespace, 3 ICMP echo requests to 192.0.2.1 (a raw
   socket; the image has no ping binary) get 3 correct replies, and the
   namespace's neighbour table has the port's MAC for 192.0.2.1.
3. Malformed and foreign frames (bad IPv4 checksum, an ARP request for
   another address), sent with a packet socket, are dropped and counted by
   reason.
4. SIGTERM: exit 0 within 10 s, the worker's counters in the log, no error
   line. `netns-lab down` always runs.
"""

import os
import re
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
PREFIX = "p%d" % (os.getpid() % 10000)
VIP = "192.0.2.1"

# Runs inside the client namespace: ping with a raw ICMP socket, then send
# two bad frames with a packet socket. Prints "ok/n".
PINGER = r"""
import os, socket, struct, sys, time

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff

dst, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1.0)
ident, ok = os.getpid() & 0xffff, 0
for seq in range(1, n + 1):
    data = b"postmux-ping-%d" % seq
    c = csum(struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data)
    s.sendto(struct.pack("!BBHHH", 8, 0, c, ident, seq) + data, (dst, 0))
    end = time.time() + 1.0
    while time.time() < end:
        try:
            pkt, a = s.recvfrom(2048)
        except socket.timeout:
            break
        ihl = (pkt[0] & 15) * 4
        t, code, ck, i, sq = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
        if (a[0] == dst and t == 0 and code == 0 and i == ident and sq == seq
                and pkt[ihl + 8:] == data and csum(pkt[ihl:]) == 0):
            ok += 1
            break
print("%d/%d" % (ok, n))
"""

BADFRAMES = r"""
import socket, struct, sys
ifc, dmac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", ""))
smac = bytes.fromhex(open("/sys/class/net/%s/address" % ifc).read().strip().replace(":", ""))
p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
p.bind((ifc, 0))
src, dst = socket.inet_aton("192.0.2.2"), socket.inet_aton("192.0.2.1")
# IPv4 ICMP echo with a wrong header checksum (0x1234).
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 1, 0x1234, src, dst)
icmp = struct.pack("!BBHHH", 8, 0, 0xf7fe, 0, 1)
p.send(dmac + smac + b"\x08\x00" + ip + icmp + b"\0" * 18)
# An ARP request for an address that is not ours.
arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, smac, src, b"\0" * 6,
                  socket.inet_aton("192.0.2.99"))
p.send(b"\xff" * 6 + smac + b"\x08\x06" + arp + b"\0" * 18)
print("sent")
"""


def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60, **kw)


def main():
    if os.geteuid() != 0:
        skip("needs root (netns, veth, af_packet)")
    dp = os.environ.get("PM_DATAPLANE")
    if not dp:
        skip("PM_DATAPLANE is not set")
    r = run([LAB, "up", "--prefix", PREFIX])
    try:
        if r.returncode != 0:
            skip("netns-lab up failed: %s" % r.stderr.strip())
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines()
                  if "=" in line)
        body(dp, kv)
    finally:
        run([LAB, "down", "--prefix", PREFIX])
    info(pmtest.summary())
    return pmtest.status()


def body(dp, kv):
    cns, cif, cdp = kv["client_ns"], kv["client_if"], kv["client_dp_if"]
    with tempfile.TemporaryDirectory(prefix="pm-ping-") as tmp:
        conf = os.path.join(tmp, "postmux.conf")
        with open(conf, "w") as f:
            f.write("postmux_control_socket = %s/control\n" % tmp)
            f.write("postmux_dpdk_args = --no-huge -m 256 --no-pci --no-shconf "
                    "--no-telemetry --file-prefix pm%s\n" % PREFIX)
            f.write("postmux_port = client net_af_packet0,iface=%s %s/24\n"
                    % (cdp, VIP))
            f.write("postmux_lcores = 1\n")
        errpath = os.path.join(tmp, "stderr")
        with open(errpath, "w") as errf:
            proc = subprocess.Popen([dp, "-c", conf], stdout=subprocess.DEVNULL,
                                    stderr=errf)
        try:
            # Started when the port line is logged.
            deadline = time.time() + 15
            while time.time() < deadline and proc.poll() is None:
                if "started (1 port(s)" in open(errpath).read():
                    break
                time.sleep(0.1)
            log = open(errpath).read()
            if not check("started (1 port(s)" in log and proc.poll() is None,
                         "data plane starts with its port: %s" % log):
                return
            m = re.search(r"MAC ([0-9A-F:]{17})", log)
            mac = m.group(1).lower() if m else "?"
            r = run(["ip", "netns", "exec", cns, sys.executable, "-c", PINGER,
                     VIP, "3"])
            info("ping %s from %s: %s %s" % (VIP, cns, r.stdout.strip(),
                                             r.stderr.strip()))
            check(r.stdout.strip() == "3/3", "3 of 3 echo replies (got %r)"
                  % r.stdout.strip())
            neigh = run(["ip", "-n", cns, "neigh", "show", VIP]).stdout
            info("neighbour: %s" % neigh.strip())
            check(("lladdr " + mac) in neigh,
                  "client's neighbour entry for %s is the port's MAC %s: %r"
                  % (VIP, mac, neigh))
            r = run(["ip", "netns", "exec", cns, sys.executable, "-c",
                     BADFRAMES, cif, mac])
            check(r.stdout.strip() == "sent", "bad frames sent: %s" % r.stderr)
            time.sleep(0.5)
            # The data plane still answers.
            r = run(["ip", "netns", "exec", cns, sys.executable, "-c", PINGER,
                     VIP, "1"])
            check(r.stdout.strip() == "1/1", "still answers after bad frames")
        finally:
            t0 = time.time()
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            check(rc == 0, "SIGTERM: exit 0 (got %s)" % rc)
            info("exited %s in %.2f s" % (rc, time.time() - t0))
        log = open(errpath).read()
        sys.stdout.write(log)
        check(" error:" not in log and "FATAL" not in log,
              "no error in the data plane's log")
        m = re.search(r"worker 0 .*", log)
        stats = m.group(0) if m else ""
        check(re.search(r"echo_replies [4-9]", stats) is not None,
              "worker counted its echo replies: %r" % stats)
        check(re.search(r"arp_replies [1-9]", stats) is not None,
              "worker counted an ARP reply: %r" % stats)
        check("IP_CSUM=1" in stats, "bad checksum counted: %r" % stats)
        check(re.search(r"ARP_NOT_US=[1-9]", stats) is not None,
              "ARP for another address counted: %r" % stats)


if __name__ == "__main__":
    sys.exit(main())
