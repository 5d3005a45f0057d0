#!/usr/bin/env python3
"""scripts/netns-lab: the test lab's namespaces and veth pairs (DESIGN.md,
"Test lab").

Usage: test_netns_lab.py <path to postmuxctl>   (the argument is ignored)
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr): not root, or
       `ip netns` or ethtool unusable.

With a prefix of its own (t<pid % 10000>), so that it never meets another
lab:
1. `up`: the namespaces and the four links exist, the addresses are inside
   the namespaces only (the root-side ends have no IPv4 address), TX
   checksum offload, TSO and GSO are off on the namespace ends; the key=value
   lines name them.
2. `up` again exits 0 and leaves the same state.
3. Nothing forwards between the namespaces without the data plane: a TCP
   connect from the client namespace to a backend address does not reach it,
   neither through ARP for the VIP (nobody answers it) nor with the VIP's
   neighbour entry forced to the root-side end's MAC (the root namespace's
   stack gets the frames and must not route them). A connect inside the
   backend namespace to its own address is refused, which shows the probe
   tells a reached address from an unreached one.
4. `down` removes everything; `down` again exits 0.
5. A failed run: `up`, one namespace deleted by hand, `down` still removes
   everything.
`down` always runs at the end. Traffic goes only to addresses inside the
namespaces the test created; the root namespace's addresses and routes are
not touched.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, info, skip  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LAB = os.path.join(REPO, "scripts", "netns-lab")
PREFIX = "t%d" % (os.getpid() % 10000)
CNS, BNS = PREFIX + "-client", PREFIX + "-backend"
CIF, BIF = PREFIX + "c0", PREFIX + "b0"
CDP, BDP = CIF + "-dp", BIF + "-dp"
BACKENDS = ["198.51.100.%d" % i for i in range(1, 6)]

# A TCP connect with a 1 s timeout; prints what happened. A refused connect
# means the address answered (a RST from its stack).
PROBE = r"""
import socket, sys
s = socket.socket()
s.settimeout(1.0)
try:
    s.connect((sys.argv[1], 143))
    print("connected")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error %d" % e.errno)
"""


def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30, **kw)


def lab(cmd):
    return run([LAB, cmd, "--prefix", PREFIX])


def netns_list():
    out = run(["ip", "netns", "list"]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def root_link(name):
    return run(["ip", "link", "show", "dev", name]).returncode == 0


def ns_link(ns, name):
    return run(["ip", "-n", ns, "link", "show", "dev", name]).returncode == 0


def addrs4(name, ns=None):
    args = ["ip"] + (["-n", ns] if ns else []) + \
        ["-o", "-4", "addr", "show", "dev", name]
    out = run(args).stdout
    return sorted(line.split()[3] for line in out.splitlines())


def offloads(ns, ifc):
    out = run(["ip", "netns", "exec", ns, "ethtool", "-k", ifc]).stdout
    feats = {}
    for line in out.splitlines():
        if ":" in line and not line.startswith("Features"):
            k, v = line.split(":", 1)
            feats[k.strip()] = v.strip().split(" ")[0]
    return feats


def probe(ns, addr):
    r = run(["ip", "netns", "exec", ns, sys.executable, "-c", PROBE, addr])
    res = r.stdout.strip() or ("probe failed: " + r.stderr.strip())
    info("probe %s -> %s: %s" % (ns, addr, res))
    return res


def gone(what):
    left = [n for n in (CNS, BNS) if n in netns_list()]
    left += [n for n in (CDP, BDP, CIF, BIF) if root_link(n)]
    check(not left, "%s: still there: %s" % (what, " ".join(left)))


def lab_state():
    """What the lab looks like, for comparing two `up`s."""
    return (sorted(n for n in netns_list() if n in (CNS, BNS)),
            [root_link(CDP), root_link(BDP)],
            addrs4(CDP), addrs4(BDP),
            addrs4(CIF, CNS), addrs4(BIF, BNS),
            run(["ip", "-n", CNS, "route"]).stdout,
            run(["ip", "-n", BNS, "route"]).stdout,
            offloads(CNS, CIF).get("tx-checksumming"),
            offloads(BNS, BIF).get("tx-checksumming"))


def check_up(r):
    if not check(r.returncode == 0, "up exits 0 (got %d: %s)"
                 % (r.returncode, r.stderr.strip())):
        return False
    kv = dict(line.split("=", 1) for line in r.stdout.splitlines()
              if "=" in line)
    check(kv.get("client_ns") == CNS and kv.get("backend_ns") == BNS,
          "up names the namespaces: %r" % kv)
    check(kv.get("client_dp_if") == CDP and kv.get("backend_dp_if") == BDP,
          "up names the root-side links: %r" % kv)
    check(kv.get("client_addr") == "192.0.2.2" and kv.get("vip") == "192.0.2.1"
          and kv.get("backend_addrs") == " ".join(BACKENDS),
          "up prints the addresses: %r" % kv)
    ns = netns_list()
    check(CNS in ns and BNS in ns, "both namespaces exist: %s" % sorted(ns))
    check(root_link(CDP) and root_link(BDP), "the root-side ends exist")
    check(ns_link(CNS, CIF) and ns_link(BNS, BIF),
          "the namespace ends are in their namespaces")
    check(not root_link(CIF) and not root_link(BIF),
          "the namespace ends are not in the root namespace")
    check(addrs4(CDP) == [] and addrs4(BDP) == [],
          "the root-side ends have no IPv4 address: %s %s"
          % (addrs4(CDP), addrs4(BDP)))
    check(addrs4(CIF, CNS) == ["192.0.2.2/24"],
          "client address: %s" % addrs4(CIF, CNS))
    check(addrs4(BIF, BNS) == sorted(a + "/24" for a in BACKENDS),
          "backend addresses: %s" % addrs4(BIF, BNS))
    for ns, ifc in ((CNS, CIF), (BNS, BIF)):
        f = offloads(ns, ifc)
        check(f.get("tx-checksumming") == "off",
              "%s: tx-checksumming off (%s)" % (ifc, f.get("tx-checksumming")))
        check(f.get("tcp-segmentation-offload") == "off"
              and f.get("generic-segmentation-offload") == "off",
              "%s: TSO and GSO off" % ifc)
    check(lab("status").returncode == 0, "status exits 0 with the lab up")
    return True


def check_isolated():
    for dp in (CDP, BDP):
        run(["ip", "link", "set", "dev", dp, "up"])
    res = probe(BNS, BACKENDS[0])
    check(res == "refused",
          "probe control: a backend address answers inside its namespace (%s)"
          % res)
    res = probe(CNS, BACKENDS[0])
    check(res != "refused" and res != "connected",
          "no forwarding client -> backend without the data plane (%s)" % res)
    # Force the frames into the root namespace's stack, but only if it is
    # sure not to forward them off the lab's links.
    fwd = "/proc/sys/net/ipv4/conf/%s/forwarding" % CDP
    with open(fwd) as f:
        if not check(f.read().strip() == "0",
                     "%s: IPv4 forwarding off on the root-side end" % CDP):
            return
    with open("/sys/class/net/%s/address" % CDP) as f:
        mac = f.read().strip()
    run(["ip", "-n", CNS, "neigh", "replace", "192.0.2.1", "lladdr", mac,
         "dev", CIF, "nud", "permanent"])
    res = probe(CNS, BACKENDS[0])
    check(res != "refused" and res != "connected",
          "the root namespace does not route client -> backend (%s)" % res)


def main():
    if os.geteuid() != 0:
        skip("needs root (network namespaces)")
    try:
        r = run(["ip", "netns", "list"])
        e = run(["ethtool", "--version"])
    except (OSError, subprocess.SubprocessError) as ex:
        skip("ip or ethtool unusable: %s" % ex)
    if r.returncode != 0 or e.returncode != 0:
        skip("`ip netns` or ethtool unusable: %s%s"
             % (r.stderr.strip(), e.stderr.strip()))
    if not os.access(LAB, os.X_OK):
        check(False, "%s is not executable" % LAB)
        return pmtest.status()
    try:
        info("lab prefix %s" % PREFIX)
        if check_up(lab("up")):
            first = lab_state()
            r = lab("up")
            check(r.returncode == 0, "a second up exits 0 (%d: %s)"
                  % (r.returncode, r.stderr.strip()))
            check(lab_state() == first, "a second up leaves the same state")
            check_isolated()
        r = lab("down")
        check(r.returncode == 0, "down exits 0 (%s)" % r.stderr.strip())
        gone("after down")
        check(lab("status").returncode == 3, "status exits 3 with no lab")
        r = lab("down")
        check(r.returncode == 0, "down again exits 0 (%s)" % r.stderr.strip())

        info("failed run: %s deleted by hand" % CNS)
        r = lab("up")
        check(r.returncode == 0, "up exits 0 (%s)" % r.stderr.strip())
        run(["ip", "netns", "del", CNS])
        check(lab("status").returncode == 3, "status exits 3 on a half lab")
        r = lab("down")
        check(r.returncode == 0, "down of a half lab exits 0 (%s)"
              % r.stderr.strip())
        gone("after down of a half lab")
    finally:
        lab("down")
    info(pmtest.summary())
    return pmtest.status()


if __name__ == "__main__":
    sys.exit(main())
