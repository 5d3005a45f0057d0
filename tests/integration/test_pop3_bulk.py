#!/usr/bin/env python3
"""A 10 MB message RETRieved over POP3 through the splice, clean and impaired.

Usage: test_pop3_bulk.py <path to postmuxctl>
Environment: PM_DATAPLANE, PM_CONTROL, PM_IMPAIR (the binaries), PM_WORKERS
       (worker lcores, default 1), PM_SEED (the relays' seed).
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr).

With a lab of its own made with `scripts/netns-lab up --impair` (a relay
namespace on each side, tests/tools/impair relaying), two Dovecot backends
and the proxy (test_imap_proxy.ProxyLab) with a POP3 listener on the VIP:
1. A 10 MB message is delivered over LMTP, in the backend namespace, to the
   user's backend (the one `doveadm director status` names) and read back
   there directly over POP3 (no proxy): the reference.
2. Through the VIP, with poplib: USER/PASS, STAT, then (once the session
   is spliced: lcore.N.pop3.splices) RETR 1, QUIT. The message is the
   reference byte for byte (SHA-256, length, the octet count of the RETR
   reply), it ends with the message delivered, and the splice forwarded at
   least one packet per 1500 bytes of it meanwhile; through a clean
   network.
3. The same with 2 % loss on both sides (nftables, `netns-lab loss`) and
   2 % duplication and 2 % reordering on both sides (the relays).
4. No session is left.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, info, skip  # noqa: E402
from backend_lab import DOVECOT  # noqa: E402
from test_imap_proxy import LAB, VIP, ProxyLab, run, wait_for, director_host  # noqa: E402
from test_imap_bulk import Relays  # noqa: E402

WORKERS = int(os.environ.get("PM_WORKERS", "1"))
PREFIX = "q%d%d" % (WORKERS, os.getpid() % 1000)
BACKENDS = ["198.51.100.1", "198.51.100.2"]
SIZE = 10 * 1000 * 1000

# The message of a seed (the same in both namespaces), and its delivery.
MESSAGE = r"""
import hashlib, random
def message(seed, size):
    r = random.Random(seed)
    line = lambda: bytes(r.getrandbits(7) % 94 + 33 for _ in range(76)) + b"\r\n"
    chunk = b"".join(line() for _ in range(1000))
    msg = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: bulk\r\n\r\n"
    while len(msg) < size:
        msg += chunk
    return msg[:size - 2] + b"\r\n"

def retr(p):
    resp, lines, octets = p.retr(1)
    return resp, b"\r\n".join(lines) + b"\r\n", octets
"""

# In the backend namespace: deliver, then read back directly.
DELIVER = MESSAGE + r"""
import poplib, smtplib, sys
addr, user, seed, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
msg = message(seed, size)
lmtp = smtplib.LMTP(addr, 24, timeout=120)
refused = lmtp.sendmail("bulk@example.org", [user], msg)
lmtp.quit()
p = poplib.POP3(addr, 110, timeout=120)
p.user(user)
p.pass_("pass")
n, _ = p.stat()
resp, got, octets = retr(p)
p.quit()
print(len(refused), n, len(got), octets, hashlib.sha256(got).hexdigest(), got.endswith(msg))
"""

# In the client namespace, through the VIP: log in, STAT, say "ready" and
# wait for a line on stdin (the test waits for the splice), then RETR.
FETCH = MESSAGE + r"""
import poplib, sys, time
vip, user, seed, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
msg = message(seed, size)
p = poplib.POP3(vip, 110, timeout=120)
p.user(user)
ok = p.pass_("pass")
n, _ = p.stat()
print("ready", flush=True)
sys.stdin.readline()
t1 = time.time()
resp, got, octets = retr(p)
t2 = time.time()
p.quit()
print(ok.decode().replace(" ", "_"), n, len(got), octets, hashlib.sha256(got).hexdigest(),
      got.endswith(msg), "%.1f" % (t2 - t1))
"""


def main():
    if os.geteuid() != 0:
        skip("needs root (netns, veth, af_packet)")
    dp, ctl = os.environ.get("PM_DATAPLANE"), os.environ.get("PM_CONTROL")
    impair = os.environ.get("PM_IMPAIR")
    postmuxctl = sys.argv[1] if len(sys.argv) > 1 else None
    if not dp or not ctl or not impair or not postmuxctl:
        skip("PM_DATAPLANE, PM_CONTROL, PM_IMPAIR or the postmuxctl argument is missing")
    if not os.access(DOVECOT, os.X_OK):
        skip("no Dovecot")
    t0 = time.monotonic()
    r = run([LAB, "up", "--impair", "--prefix", PREFIX, "--backends", "2"])
    try:
        if r.returncode != 0:
            skip("netns-lab up --impair failed: %s" % r.stderr.strip())
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        relays = Relays(impair, kv, "/tmp")
        try:
            if not check(relays.start(), "relays start"):
                return pmtest.status()
            with ProxyLab(dp, ctl, postmuxctl, kv, WORKERS, PREFIX, BACKENDS,
                          listeners=((110, "pop3"),)) as px:
                if px is not None:
                    body(kv, px, relays)
        finally:
            relays.stop()
    finally:
        run([LAB, "down", "--prefix", PREFIX])
    info("%s (%.1f s)" % (pmtest.summary(), time.monotonic() - t0))
    return pmtest.status()


def total(px, name):
    return sum(v for k, v in px.stats("lcore.").items() if k.endswith(name))


def bulk(kv, px, what, seed):
    user = "pbulk%d" % seed
    host = director_host(px.admin, user)
    t = time.monotonic()
    r = run(["ip", "netns", "exec", kv["backend_ns"], sys.executable, "-c", DELIVER, host, user,
             str(seed), str(SIZE)], timeout=300)
    ref = r.stdout.split()
    info("%s: delivered to %s on %s and read back directly: %s %s (%.1f s)"
         % (what, user, host, r.stdout.strip(), r.stderr.strip()[-500:], time.monotonic() - t))
    if not check(len(ref) == 6 and ref[0] == "0" and ref[1] == "1" and ref[5] == "True",
                 "%s: 10 MB delivered over LMTP to %s on %s, and RETR on the backend itself "
                 "returns it" % (what, user, host)):
        return
    t = time.monotonic()
    splices = total(px, ".pop3.splices")
    p = subprocess.Popen(["ip", "netns", "exec", kv["client_ns"], sys.executable, "-c", FETCH,
                          VIP, user, str(seed), str(SIZE)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = p.stdout.readline().strip() == "ready"
        check(ready, "%s: logged in through the VIP" % what)
        check(ready and wait_for(lambda: total(px, ".pop3.splices") == splices + 1, 10),
              "%s: the session is spliced before the RETR" % what)
        fwd = total(px, ".tcp.forwarded")
        out, err = p.communicate("go\n", timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    got = out.split()
    info("%s: through the VIP: %s %s (%.1f s)" % (what, out.strip(), err.strip()[-500:],
                                                  time.monotonic() - t))
    check(len(got) == 7 and got[0] == "+OK_Logged_in." and got[1] == "1" and
          got[2:5] == ref[2:5] and got[5] == "True",
          "%s: RETR through the splice is the backend's message byte for byte (%s bytes, "
          "SHA-256 %s...)" % (what, ref[2], ref[4][:16]))
    # The workers publish their counters every 100 ms: wait for the last.
    before = fwd
    wait_for(lambda: total(px, ".tcp.forwarded") - before >= SIZE // 1500, 3)
    fwd = total(px, ".tcp.forwarded") - before
    check(fwd >= SIZE // 1500, "%s: the splice forwarded %d packets during the RETR"
          % (what, fwd))


def body(kv, px, relays):
    seed = int(os.environ.get("PM_SEED", "0")) or 42
    info("relay seed %d (PM_SEED)" % seed)
    bulk(kv, px, "clean", 1)
    # Loss first, then connect (netns-lab loss: TCP picks the segment size
    # up when it connects).
    for side in ("client", "backend"):
        r = run([LAB, "loss", "--prefix", PREFIX, "--side", side, "--percent", "2"])
        check(r.returncode == 0, "netns-lab loss %s 2 %%: %s" % (side, r.stderr))
    check(relays.start(dup=2, reorder=2, seed=seed), "relays with 2 % dup and reorder")
    bulk(kv, px, "2 % loss, duplication, reordering on both sides", 2)
    for side in ("client", "backend"):
        r = run([LAB, "loss", "--prefix", PREFIX, "--side", side])
        info("loss %s: %s" % (side, " ".join(r.stdout.split())))
        run([LAB, "loss", "--prefix", PREFIX, "--side", side, "--percent", "0"])
    relays.start()
    info("engine: " + " ".join("%s %d" % (n, total(px, ".tcp." + n))
                               for n in ("forwarded", "stale", "stale_acked",
                                         "syn_ack_retrans")))
    gauge = lambda n: sum(v for k, v in px.stats("lcore.").items()  # noqa: E731
                          if k.endswith("." + n))
    check(wait_for(lambda: gauge("sessions") == 0 and gauge("prelogin") == 0, 10),
          "no session left: sessions %d, prelogin %d" % (gauge("sessions"), gauge("prelogin")))


if __name__ == "__main__":
    sys.exit(main())
