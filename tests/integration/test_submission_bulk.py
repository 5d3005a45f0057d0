#!/usr/bin/env python3
"""10 MB submitted through the splice, clean and impaired.

Usage: test_submission_bulk.py <path to postmuxctl>
Environment: PM_DATAPLANE, PM_CONTROL, PM_IMPAIR (the binaries), PM_WORKERS
       (worker lcores, default 1), PM_SEED (the relays' seed).
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr).

With a lab of its own made with `scripts/netns-lab up --impair` (a relay
namespace on each side, tests/tools/impair relaying), two Dovecot backends
that serve Submission and relay to the lab's SMTP sink (backend_lab.py),
and the proxy with a Submission listener on the VIP (test_imap_proxy.ProxyLab),
smtplib in the client namespace logs in and sends a 10 MB message (lines
of pseudo-random printable bytes, every 50th starting with a dot, so that
dot-stuffing is on the wire):
1. through a clean network;
2. with 2 % loss on both sides (nftables, `netns-lab loss`) and 2 %
   duplication and 2 % reordering on both sides (the relays).
Each time the message reaches the sink of the backend that the director
names for the user, once, and is the client's message byte for byte (SHA-256)
behind the one Received: header the backend adds ("from postmux
([192.0.2.2]) by backend-K.lab"). The backend relays to the sink inside its
own namespace, so the impaired path is client - postmux - backend.
"""

import hashlib
import inspect
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, info, skip  # noqa: E402
from backend_lab import DOVECOT, SUBMISSION  # noqa: E402
from test_imap_bulk import Relays  # noqa: E402
from test_imap_proxy import LAB, VIP, ProxyLab, director_host, run, wait_for  # noqa: E402

WORKERS = int(os.environ.get("PM_WORKERS", "1"))
PREFIX = "u%d%d" % (WORKERS, os.getpid() % 1000)
BACKENDS = ["198.51.100.1", "198.51.100.2"]
CLIENT_ADDR = "192.0.2.2"
PORT = 587
SIZE = 10 * 1000 * 1000

def make(seed, size):
    """The message of @seed, @size bytes: a header, then lines of 76
    pseudo-random printable bytes, every 50th starting with a dot."""
    r = random.Random(seed)
    printable = bytes(i % 94 + 33 for i in range(256))
    head = b"From: bulk@example.org\r\nTo: sink@example.org\r\nSubject: bulk %d\r\n\r\n" % seed
    lines = [head]
    n, i = len(head), 0
    while n < size:
        line = r.randbytes(76).translate(printable)
        if i % 50 == 0:
            line = b"." + line[1:]
        lines.append(line + b"\r\n")
        n += 78
        i += 1
    return b"".join(lines)[:size - 2] + b"\r\n"


# The client: the same make(), then smtplib.
SEND = "import hashlib, random, smtplib, sys, time\n" + inspect.getsource(make) + r"""
vip, port, user, seed, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), \
    int(sys.argv[5])
msg = make(seed, size)
t = time.time()
s = smtplib.SMTP(vip, port, local_hostname="bulk.client.example", timeout=120)
s.login(user, "pass")
t1 = time.time()
refused = s.sendmail("%s@example.org" % user, ["sink@example.org"], msg)
t2 = time.time()
code, _ = s.noop()
s.quit()
print("sent" if not refused else "refused", code, len(msg), hashlib.sha256(msg).hexdigest(),
      "%.1f %.1f" % (t1 - t, t2 - t1))
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
    if not os.access(SUBMISSION, os.X_OK):
        skip("no Dovecot submission (Debian: dovecot-submissiond)")
    t0 = time.monotonic()
    r = run([LAB, "up", "--impair", "--prefix", PREFIX, "--backends", str(len(BACKENDS))])
    try:
        if r.returncode != 0:
            skip("netns-lab up --impair failed: %s" % r.stderr.strip())
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        relays = Relays(impair, kv, "/tmp")
        try:
            if not check(relays.start(), "relays start"):
                return pmtest.status()
            with ProxyLab(dp, ctl, postmuxctl, kv, WORKERS, PREFIX, BACKENDS,
                          listeners=["%s %d submission" % (VIP, PORT)]) as px:
                if px is not None:
                    body(kv, px, relays)
        finally:
            relays.stop()
    finally:
        run([LAB, "down", "--prefix", PREFIX])
    info("%s (%.0f s)" % (pmtest.summary(), time.monotonic() - t0))
    return pmtest.status()


def bulk(kv, px, what, seed):
    user = "bulk%d" % seed
    k = BACKENDS.index(director_host(px.admin, user)) + 1
    before = {j: len(px.lab.sink_messages(j)) for j in range(1, len(BACKENDS) + 1)}
    t = time.monotonic()
    r = run(["ip", "netns", "exec", kv["client_ns"], sys.executable, "-c", SEND, VIP,
             str(PORT), user, str(seed), str(SIZE)], timeout=600)
    f = r.stdout.split()
    info("%s: %s %s (%.1f s)" % (what, r.stdout.strip(), r.stderr.strip()[-500:],
                                 time.monotonic() - t))
    want = make(seed, SIZE)
    digest = hashlib.sha256(want).hexdigest()
    if not check(len(f) >= 4 and f[:4] == ["sent", "250", str(SIZE), digest],
                 "%s: smtplib sent the %d bytes and the session goes on (NOOP 250)"
                 % (what, SIZE)):
        return

    def arrived():
        new = {j: px.lab.sink_messages(j)[before[j]:] for j in before}
        return new if sum(len(v) for v in new.values()) > 0 else None
    new = wait_for(arrived, 30) or {}
    got = [(j, m) for j, v in new.items() for _, _, m in v]
    if not check([j for j, _ in got] == [k], "%s: one message, in backend-%d's sink: %s"
                 % (what, k, [(j, len(m)) for j, m in got])):
        return
    m = got[0][1]
    head, tail = m[:len(m) - len(want)], m[len(m) - len(want):]
    rx = re.fullmatch(rb"Received: from postmux \(\[%s\]\)\r\n\tby backend-%d\.lab with ESMTPA"
                      rb"\r\n(\t[^\r\n]*\r\n)*" % (CLIENT_ADDR.encode(), k), head)
    info("%s: at the sink %d bytes, %d of them the Received: header" % (what, len(m),
                                                                       len(head)))
    check(hashlib.sha256(tail).hexdigest() == digest and rx is not None,
          "%s: the sink has the client's %d bytes exactly, behind one Received: header: %r"
          % (what, SIZE, head[:300]))


def body(kv, px, relays):
    seed = int(os.environ.get("PM_SEED", "0")) or 42
    info("relay seed %d (PM_SEED)" % seed)
    bulk(kv, px, "clean", 1)
    # Loss first, then connect (netns-lab loss: TCP picks the segment
    # size up when it connects).
    for side in ("client", "backend"):
        r = run([LAB, "loss", "--prefix", PREFIX, "--side", side, "--percent", "2"])
        check(r.returncode == 0, "netns-lab loss %s 2 %%: %s" % (side, r.stderr))
    check(relays.start(dup=2, reorder=2, seed=seed), "relays with 2 % dup and reorder")
    bulk(kv, px, "2 % loss, duplication, reordering on both sides", 2)
    for side in ("client", "backend"):
        r = run([LAB, "loss", "--prefix", PREFIX, "--side", side])
        info("loss %s: %s" % (side, " ".join(r.stdout.split())))
        lv = dict(x.split("=", 1) for x in r.stdout.split() if "=" in x)
        check(int(lv.get("loss_dropped_in", 0)) > 0 and int(lv.get("loss_dropped_out", 0)) > 0,
              "netns-lab dropped packets both ways on the %s side" % side)
        run([LAB, "loss", "--prefix", PREFIX, "--side", side, "--percent", "0"])
    relays.start()
    st = px.stats("lcore.")
    tot = lambda n: sum(v for k, v in st.items() if k.endswith(n))  # noqa: E731
    info("engine: " + " ".join("%s %d" % (n, tot(".tcp." + n))
                               for n in ("forwarded", "stale", "stale_acked",
                                         "syn_ack_retrans")))
    check(tot(".submission.splices") == 2 and tot(".submission.login_ok") == 2,
          "the engine counted 2 Submission logins and splices")
    check(wait_for(lambda: sum(v for k, v in px.stats("lcore.").items()
                               if k.endswith(".prelogin")) == 0, 5),
          "no pre-login session left")


if __name__ == "__main__":
    sys.exit(main())
