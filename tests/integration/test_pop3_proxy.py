#!/usr/bin/env python3
"""POP3 through the data plane's TCP engine to real Dovecot backends.

Usage: test_pop3_proxy.py <path to postmuxctl>
Environment: PM_DATAPLANE, PM_CONTROL (the binaries), PM_WORKERS (worker
       lcores, default 1).
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr): not root, no
       Dovecot, or the lab cannot be made.

With a lab of its own (scripts/netns-lab --prefix p<W><pid % 1000>, five
backends), five Dovecot instances (backend_lab.py) at 198.51.100.1-5 and
the proxy (test_imap_proxy.ProxyLab) with a POP3 listener on the VIP
192.0.2.10:110. From the client namespace, with Python's poplib:
0. Each user used here gets, over LMTP on every backend, one message whose
   header names that backend (demo_clients.py deliver); a direct POP3 login
   on each backend reads back that backend's name (so TOP 1 0 after a login
   through the VIP tells where the session landed).
1. 60 users log in through the VIP, a third each with USER/PASS, AUTH
   PLAIN with an initial response and AUTH PLAIN without one (raw commands
   through poplib), and each lands on the backend that `doveadm director
   status <user> -a <admin socket>` names; TOP, STAT, NOOP and QUIT work
   through the splice, and every login pinned its user.
2. XCLIENT reaches the backends: a packet capture on the backend link shows,
   for each of those logins, `XCLIENT ADDR=<client address> PORT=<the
   client's own port> SESSION=<sid> TTL=4`, sent to the user's backend, and
   that backend's log has the login with rip=<client address> (not the
   data plane's 198.51.100.254) and session=<sid>.
3. A wrong password gets "-ERR [AUTH] Authentication failed."; the right
   one then works on the same connection; a failed login as X followed by
   a good one as Y lands on Y's backend. (The good login after a failed one
   is answered about 4 s later: Dovecot's auth penalty for the client's
   address, which the backend has from XCLIENT.) USER, PASS, STAT, TOP and
   QUIT pipelined in one segment are answered in order.
4. Kicks on held sessions (the backends' `doveadm who` lists each on the
   backend its message names, from the client's address): `doveadm
   director kick <user>` closes exactly that user's session, with a reset;
   `update <host> 0` + `flush <host>` exactly those on that backend; `move
   <user> <host>` exactly that user's, and pins it there; the others still
   answer NOOP and STAT. A backend's own `doveadm kick` of a spliced
   session reaches the client as Dovecot's last line and a close (and is
   no kick of ours). A login right after its user's move waits for the
   move (the kick delay, 2 s) and lands on the new backend.
5. A stopped backend: USER +OK, then PASS gets "-ERR [SYS/TEMP] Account is
   temporarily unavailable." after the retries (about 3 s), the connection
   stays usable (QUIT), and no pre-login session is left; a client that
   leaves while its login is being retried gives its session back at once.
6. The counters lcore.N.pop3.{logins,login_ok,login_failed,
   login_unavailable,splices,kicked} count all of the above, and the IMAP
   ones stay 0.
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, info, skip  # noqa: E402
from backend_lab import DOVECOT  # noqa: E402
from test_imap_proxy import (LAB, VIP, BACKENDS, ProxyLab, run, wait_for,  # noqa: E402
                             director_host, director_status)

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_CLIENTS = os.path.join(HERE, "demo_clients.py")
DOVEADM = "/usr/bin/doveadm"
WORKERS = int(os.environ.get("PM_WORKERS", "1"))
PREFIX = "p%d%d" % (WORKERS, os.getpid() % 1000)
CLIENT_ADDR = "192.0.2.2"
USERS = ["pop%03d" % i for i in range(60)]
HOLD = ["phold%02d" % i for i in range(12)]
RETRY = ["pretry0", "pretry1", "pretry2"]
PIPE = "ppipe"
MOVING = "pmoving"
EVERYONE = USERS + HOLD + RETRY + [PIPE, MOVING]

CLIENT = r"""
import base64, poplib, re, socket, sys, time
vip = sys.argv[1]
HDR = re.compile(rb"(?i)^X-Postmux-Demo-Backend:\s*(\S+)")

def backend_of(p):
    resp, lines, _ = p.top(1, 0)
    for line in lines:
        m = HDR.match(line)
        if m:
            return m.group(1).decode()
    return "?"

def login(p, user, how, password="pass"):
    if how == "user":
        p.user(user)
        return p.pass_(password)
    ir = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    if how == "plain-ir":
        return p._shortcmd("AUTH PLAIN " + ir)
    cont = p._shortcmd("AUTH PLAIN")
    if cont != b"+ ":
        raise poplib.error_proto(b"continuation: " + cont)
    return p._shortcmd(ir)

def err(e):
    return e.args[0].decode() if isinstance(e, poplib.error_proto) else repr(e)

mode = sys.argv[2]
if mode == "users":
    hows = ("user", "plain-ir", "plain")
    for i, u in enumerate(sys.argv[3:]):
        how = hows[i % 3]
        p = poplib.POP3(vip, 110, timeout=20)
        port = p.sock.getsockname()[1]
        ok = login(p, u, how).decode()
        b = backend_of(p)
        n, _ = p.stat()
        p.noop()
        p.quit()
        print(u, how, b, port, n, ok.replace(" ", "_"), flush=True)
elif mode == "retry":
    # X wrong, X right; then X wrong, Y right, each on one connection.
    x, y = sys.argv[3], sys.argv[4]
    for second in (x, y):
        p = poplib.POP3(vip, 110, timeout=20)
        p.user(x)
        try:
            p.pass_("wrong")
            print("wrong-accepted")
        except poplib.error_proto as e:
            print("wrong", x, err(e))
        p.user(second)
        print("right", second, p.pass_("pass").decode(), backend_of(p))
        p.quit()
elif mode == "pipeline":
    s = socket.create_connection((vip, 110), timeout=20)
    f = s.makefile("rb")
    print("greeting", f.readline().decode().strip())
    s.sendall(b"USER %s\r\nPASS pass\r\nSTAT\r\nTOP 1 0\r\nQUIT\r\n" % sys.argv[3].encode())
    while True:
        line = f.readline()
        if not line:
            break
        print(line.decode().rstrip("\r\n"))
elif mode == "hold":
    # Log in every user, then on each stdin line NOOP and STAT every session
    # still open and print which answered; one that did not is closed.
    conns = {}
    for u in sys.argv[3:]:
        p = poplib.POP3(vip, 110, timeout=10)
        login(p, u, "user")
        conns[u] = (p, backend_of(p))
    print("ready " + " ".join("%s=%s" % (u, b) for u, (p, b) in conns.items()), flush=True)
    for line in sys.stdin:
        alive, dead = [], []
        for u, (p, b) in list(conns.items()):
            try:
                p.noop()
                n, _ = p.stat()
                alive.append(u if n == 1 else u + "!stat%d" % n)
            except Exception as e:
                # How it ended: a reset (ConnectionResetError), or what
                # the server said last.
                dead.append("%s:%s" % (u, err(e).replace(" ", "_")
                                       if isinstance(e, poplib.error_proto)
                                       else type(e).__name__))
                del conns[u]
        print("alive " + " ".join(alive), flush=True)
        print("dead " + " ".join(dead), flush=True)
elif mode == "leave":
    # Log in and go away while the login is still trying the backend.
    s = socket.create_connection((vip, 110), timeout=20)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"USER %s\r\nPASS pass\r\n" % sys.argv[3].encode())
    print(f.readline().decode().strip())
    time.sleep(0.5)
    s.close()
    print("left")
elif mode == "one":
    p = poplib.POP3(vip, 110, timeout=30)
    print("user", p.user(sys.argv[3]).decode())
    t = time.time()
    try:
        ok = p.pass_("pass").decode()
        print("ok %s %s %.1f" % (ok, backend_of(p), time.time() - t))
    except Exception as e:
        print("err %s %.1f" % (err(e), time.time() - t))
    try:
        print("quit", p.quit().decode())
    except Exception as e:
        print("quit-failed %r" % e)
"""

# Runs in the backend namespace and captures the TCP streams to port 110 on
# the backend link (a login's lines may span segments: the data plane cuts
# a segment where its send ring wraps). On SIGTERM it prints, per
# connection, "<dst> <first line>" if that line is an XCLIENT line, then
# "split <n>" (how many of those lines came in more than one segment) and
# "stats <packets> <drops>" (PACKET_STATISTICS): a capture that could not
# keep up says so.
SNIFF = r"""
import signal, socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)	# SO_RCVBUFFORCE: past rmem_max
s.bind((sys.argv[1], 0))
conns = {}	# (src, sport, dst) -> [isn, {offset: payload}]

def bye(*_):
    split = 0
    for (src, sport, dst), (isn, segs) in conns.items():
        buf, n = b"", 0	# the first line, from n segments
        for off in sorted(segs):
            d = segs[off]
            if off > len(buf):
                break
            if off + len(d) <= len(buf):
                continue	# nothing new
            buf += d[len(buf) - off:]
            n += 1
            if b"\r\n" in buf:
                break
        line = buf.split(b"\r\n")[0]
        if line.startswith(b"XCLIENT ") and b"\r\n" in buf:
            split += n > 1
            print(socket.inet_ntoa(dst), line.decode("ascii", "replace"))
    print("split %d" % split)
    print("stats %d %d" % struct.unpack("II", s.getsockopt(263, 6, 8)), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", flush=True)
while True:
    f = s.recv(65536)
    if len(f) < 34 or f[12:14] != b"\x08\x00" or f[23] != 6:
        continue
    t = 14 + (f[14] & 15) * 4
    sport, dport, seq = struct.unpack("!HHI", f[t:t + 8])
    if dport != 110:
        continue
    key = (f[26:30], sport, f[30:34])
    if f[t + 13] & 2:	# SYN
        conns.setdefault(key, [seq, {}])
        continue
    data = f[t + (f[t + 12] >> 4) * 4:14 + struct.unpack("!H", f[16:18])[0]]
    if data and key in conns:
        c = conns[key]
        c[1].setdefault((seq - c[0] - 1) & 0xffffffff, data)
"""


def main():
    if os.geteuid() != 0:
        skip("needs root (netns, veth, af_packet)")
    dp, ctl = os.environ.get("PM_DATAPLANE"), os.environ.get("PM_CONTROL")
    postmuxctl = sys.argv[1] if len(sys.argv) > 1 else None
    if not dp or not ctl or not postmuxctl:
        skip("PM_DATAPLANE, PM_CONTROL or the postmuxctl argument is missing")
    if not os.access(DOVECOT, os.X_OK) or not os.access(DOVEADM, os.X_OK):
        skip("no Dovecot")
    t0 = time.monotonic()
    r = run([LAB, "up", "--prefix", PREFIX, "--backends", "5"])
    try:
        if r.returncode != 0:
            skip("netns-lab up failed: %s" % r.stderr.strip())
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        with ProxyLab(dp, ctl, postmuxctl, kv, WORKERS, PREFIX,
                      listeners=((110, "pop3"),)) as px:
            if px is not None:
                Checks(kv, px).run()
    finally:
        run([LAB, "down", "--prefix", PREFIX])
    info("%s (%.1f s)" % (pmtest.summary(), time.monotonic() - t0))
    return pmtest.status()


def bname(addr):
    return "backend-%d" % (BACKENDS.index(addr) + 1) if addr in BACKENDS else "?"


class Checks:
    def __init__(self, kv, px):
        self.kv, self.px, self.admin = kv, px, px.admin

    def client(self, *args, **kw):
        return run(["ip", "netns", "exec", self.kv["client_ns"], sys.executable, "-c", CLIENT,
                    VIP] + list(args), **kw)

    def counters(self, proto="pop3"):
        st = self.px.stats("lcore.")
        out = {}
        for k, v in st.items():
            f = k.split(".")
            if len(f) == 4 and f[2] == proto:
                out[f[3]] = out.get(f[3], 0) + v
        return out

    def gauge(self, name):
        return sum(v for k, v in self.px.stats("lcore.").items() if k.endswith("." + name))

    def step(self, what, fn):
        t = time.monotonic()
        fn()
        info("-- %s: %.1f s" % (what, time.monotonic() - t))

    def run(self):
        self.step("delivery and detection", self.deliver)
        self.step("60 users, XCLIENT", self.users)
        self.step("failed logins, pipelining", self.retry)
        self.settle(63, 2, 0, "after the logins")
        self.step("kicks", self.kicks)
        self.step("stopped backend", self.stopped_backend)
        check(self.px.procs[1].poll() is None, "the data plane is still running")

    # ---- 0 ----------------------------------------------------------------
    def deliver(self):
        """Every user's INBOX on every backend holds one message naming
        that backend; a direct login on each reads it back."""
        bns = self.kv["backend_ns"]
        args = []
        for addr in BACKENDS:
            args += ["--backend", addr, bname(addr)]
        r = run(["ip", "netns", "exec", bns, sys.executable, DEMO_CLIENTS, "deliver"] + args +
                EVERYONE)
        check(r.returncode == 0, "LMTP delivery to %d users on %d backends: %s %s"
              % (len(EVERYONE), len(BACKENDS), r.stdout.strip(), r.stderr[-500:]))
        r = run(["ip", "netns", "exec", bns, sys.executable, DEMO_CLIENTS, "check",
                 "--pop3-port", "110"] + ["%s:pop3:%s" % (a, USERS[0]) for a in BACKENDS])
        got = [line.split() for line in r.stdout.splitlines()]
        check(r.returncode == 0 and
              [(f[0], f[3]) for f in got] == [(a, bname(a)) for a in BACKENDS],
              "a direct POP3 login on each backend reads that backend's name: %r %s"
              % (r.stdout, r.stderr[-300:]))

    # ---- 1, 2 -------------------------------------------------------------
    def users(self):
        bns = self.kv["backend_ns"]
        sniff = subprocess.Popen(["ip", "netns", "exec", bns, sys.executable, "-c", SNIFF,
                                  self.kv["backend_if"]], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            check(sniff.stdout.readline().strip() == "ready", "the capture on %s runs"
                  % self.kv["backend_if"])
            r = self.client("users", *USERS, timeout=300)
            time.sleep(0.3)
        finally:
            sniff.send_signal(signal.SIGTERM)
            try:
                out, _ = sniff.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                sniff.kill()
                out, _ = sniff.communicate()
        lines = [line.split() for line in r.stdout.splitlines()]
        check(len(lines) == len(USERS) and all(len(f) == 6 for f in lines),
              "%d users logged in (%d): %s" % (len(USERS), len(lines), r.stderr[-2000:]))
        wrong, spread, hows = [], {}, {}
        port_of, host_of = {}, {}
        for f in lines:
            if len(f) != 6:
                continue
            user, how, backend, port, n, ok = f
            want = director_host(self.admin, user)
            port_of[user], host_of[user] = int(port), want
            spread[backend] = spread.get(backend, 0) + 1
            hows[how] = hows.get(how, 0) + 1
            if backend != bname(want) or n != "1" or ok != "+OK_Logged_in.":
                wrong.append("%s (%s) on %s, STAT %s, %s; the director says %s"
                             % (user, how, backend, n, ok, want))
        info("spread: %s, methods: %s" % (sorted(spread.items()), sorted(hows.items())))
        check(not wrong and len(lines) == len(USERS),
              "every user on the backend the director names, with each login method, "
              "\"+OK Logged in.\" as the backend said it, TOP/STAT/NOOP/QUIT through the "
              "splice: %s" % wrong[:5])
        check(len(spread) >= 3, "users spread over several backends: %s" % spread)
        unpinned = [u for u in USERS if director_status(self.admin, u)[0] is None]
        check(not unpinned, "every user that logged in is pinned; unpinned: %s" % unpinned[:5])
        pins = self.px.stats("director.").get("director.pins")
        check(pins == len(USERS), "director.pins is %d: %s" % (len(USERS), pins))
        self.xclient(out, port_of, host_of)

    def xclient(self, captured, port_of, host_of):
        """The XCLIENT lines the capture saw, against the logins and the
        backends' logs."""
        seen = {}
        sp = re.search(r"^split (\d+)$", captured, re.M)
        info("XCLIENT lines that came in more than one segment: %s" % (sp.group(1) if sp else "?"))
        st = re.search(r"^stats (\d+) (\d+)$", captured, re.M)
        check(st is not None and st.group(2) == "0",
              "the capture dropped no packet: %s" % (st.group(0) if st else captured[-300:]))
        for line in captured.splitlines():
            f = line.split()
            kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
            if len(f) >= 2 and "PORT" in kv:
                seen.setdefault(int(kv["PORT"]), set()).add((f[0], line.split(" ", 1)[1]))
        logs = {}
        for k in range(1, len(BACKENDS) + 1):
            try:
                with open(os.path.join(self.px.lab.bdir(k), "dovecot.log"), errors="replace") \
                        as fp:
                    logs[BACKENDS[k - 1]] = fp.read()
            except OSError:
                logs[BACKENDS[k - 1]] = ""
        bad, sids = [], set()
        for user, port in sorted(port_of.items()):
            s = seen.get(port, set())
            if len(s) != 1:
                bad.append("%s (port %d): XCLIENT lines %s" % (user, port, sorted(s)))
                continue
            dst, line = next(iter(s))
            m = re.fullmatch(r"XCLIENT ADDR=(\S+) PORT=(\d+) SESSION=([0-9a-f]{16}) TTL=4",
                             line)
            if not m or m.group(1) != CLIENT_ADDR or dst != host_of[user]:
                bad.append("%s: %r to %s, not ADDR=%s PORT=%d SESSION=<16 hex> TTL=4 to %s"
                           % (user, line, dst, CLIENT_ADDR, port, host_of[user]))
                continue
            sid = m.group(3)
            sids.add(sid)
            want = (r"pop3-login: Info: Login: user=<%s>, method=PLAIN, rip=%s, lip=%s, "
                    r"mpid=\d+, secured, session=<%s>" % (user, re.escape(CLIENT_ADDR),
                                                          re.escape(dst), sid))
            if not re.search(want, logs[dst]):
                bad.append("%s: no login with rip=%s session=<%s> in %s's log"
                           % (user, CLIENT_ADDR, sid, bname(dst)))
        check(not bad and len(port_of) == len(USERS),
              "each login sent XCLIENT ADDR=%s PORT=<the client's port> SESSION=<sid> TTL=4 "
              "to its backend, whose log shows rip=%s and session=<sid>: %s"
              % (CLIENT_ADDR, CLIENT_ADDR, bad[:5]))
        check(len(sids) == len(port_of), "the session ids are all different (%d for %d)"
              % (len(sids), len(port_of)))
        gw = self.kv.get("backend_gw", "198.51.100.254")
        leaked = [a for a, t in logs.items() if re.search(r"pop3-login: Info: Login: .*rip=%s,"
                                                          % re.escape(gw), t)]
        check(not leaked, "no backend logged a POP3 login from the data plane's own address "
              "%s: %s" % (gw, leaked))

    # ---- 3 ----------------------------------------------------------------
    def retry(self):
        x, y, _ = RETRY
        want_x, want_y = bname(director_host(self.admin, x)), bname(director_host(self.admin, y))
        r = self.client("retry", x, y)
        out = r.stdout.splitlines()
        check(out.count("wrong %s -ERR [AUTH] Authentication failed." % x) == 2,
              "a wrong password gets \"-ERR [AUTH] Authentication failed.\" (twice): %r %s"
              % (out, r.stderr[-500:]))
        check("right %s +OK Logged in. %s" % (x, want_x) in out,
              "then the right one on the same connection logs %s in on %s: %r"
              % (x, want_x, out))
        check("right %s +OK Logged in. %s" % (y, want_y) in out,
              "a failed login as %s, then %s logs in on %s, its own backend: %r"
              % (x, y, want_y, out))
        r = self.client("pipeline", PIPE)
        out = r.stdout.splitlines()
        want = ["greeting +OK postmux ready.", "+OK", "+OK Logged in.", "+OK 1 "]
        got = [out[i] if i < 3 else out[i][:6] for i in range(min(4, len(out)))]
        top = "X-Postmux-Demo-Backend: %s" % bname(director_host(self.admin, PIPE))
        check(got == want and top in out and out[-2:] == [".", "+OK Logging out."],
              "USER, PASS, STAT, TOP, QUIT in one segment, answered in order (%s): %r %s"
              % (top, out, r.stderr[-300:]))

    # ---- 6 ----------------------------------------------------------------
    def settle(self, ok, failed, unavailable, when, kicked=None):
        """The POP3 counters once the workers published them (every
        100 ms)."""
        def reached():
            c = self.counters()
            return c if (c.get("login_ok", 0) >= ok and c.get("login_failed", 0) >= failed and
                         c.get("login_unavailable", 0) >= unavailable and
                         (kicked is None or c.get("kicked", 0) >= kicked)) else None
        c = wait_for(reached, 5) or self.counters()
        info("pop3 counters %s: %s" % (when, sorted(c.items())))
        logins = ok + failed + unavailable
        check(c.get("logins") == logins and c.get("login_ok") == ok and
              c.get("login_failed") == failed and c.get("login_unavailable") == unavailable,
              "%s: lcore.N.pop3 counted %d logins: %d ok, %d failed, %d unavailable"
              % (when, logins, ok, failed, unavailable))
        # A session is spliced once both of its connections are quiet; one
        # that ends right behind its login (the pipelined QUIT, a TOP and a
        # QUIT) may end before that, more so on a loaded machine. The held
        # sessions' splices are counted exactly in held().
        check(ok - 3 <= c.get("splices", 0) <= ok, "%s: and %d splices (up to 3 fewer): %s"
              % (when, ok, c.get("splices")))
        if kicked is not None:
            check(c.get("kicked") == kicked, "%s: lcore.N.pop3.kicked is %d: %s"
                  % (when, kicked, c.get("kicked")))
        imap = self.counters("imap")
        check(imap and not any(imap.values()), "the IMAP counters stay 0: %s" % imap)

    # ---- 4 ----------------------------------------------------------------
    def who(self):
        """{user: (backend name, ip)} of the POP3 sessions the backends list."""
        out = {}
        for k in range(1, len(BACKENDS) + 1):
            conf = os.path.join(self.px.lab.bdir(k), "dovecot.conf")
            r = run([DOVEADM, "-c", conf, "who", "-1"])
            for line in r.stdout.splitlines()[1:]:
                f = line.split()
                if len(f) >= 4 and f[1] == "pop3":
                    out[f[0]] = ("backend-%d" % k, f[3])
        return out

    def kicks(self):
        self.splices0 = self.counters().get("splices", 0)
        p = subprocess.Popen(["ip", "netns", "exec", self.kv["client_ns"], sys.executable, "-c",
                              CLIENT, VIP, "hold"] + HOLD, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.held(p)
        finally:
            p.stdin.close()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def held(self, p):
        line = p.stdout.readline().split()
        if not check(line[:1] == ["ready"], "%d POP3 sessions held: %r" % (len(HOLD), line)):
            return
        where = dict(x.split("=") for x in line[1:])
        bad = [u for u in HOLD if where.get(u) != bname(director_host(self.admin, u))]
        check(not bad, "each held session is on its user's backend: %s"
              % [(u, where.get(u)) for u in bad])
        who = self.who()
        bad = [u for u in HOLD if who.get(u) != (where.get(u), CLIENT_ADDR)]
        check(not bad, "the backends' doveadm who lists each held session on the backend "
              "its message names, from %s: %s" % (CLIENT_ADDR, [(u, who.get(u)) for u in bad]))
        # Only the held sessions are left (the others' linger after their
        # FINs for 5 s): then every kick below closes one of them.
        check(wait_for(lambda: self.gauge("sessions") == len(HOLD), 10),
              "lcore.N.sessions comes down to the %d held sessions: %d"
              % (len(HOLD), self.gauge("sessions")))

        check(wait_for(lambda: self.counters().get("splices", 0) - self.splices0 == len(HOLD),
                       5), "each of the %d held sessions was spliced: lcore.N.pop3.splices "
              "went up by %d" % (len(HOLD), self.counters().get("splices", 0) - self.splices0))

        def alive():
            p.stdin.write("check\n")
            p.stdin.flush()
            a = p.stdout.readline().split()[1:]
            d = p.stdout.readline().split()[1:]
            return set(a), d
        a, d = alive()
        check(a == set(HOLD), "all %d sessions answer NOOP and STAT (1 message): %s %s"
              % (len(HOLD), sorted(a), d))
        before = self.counters().get("kicked", 0)
        victim = HOLD[0]
        r = run([DOVEADM, "director", "kick", victim, "-a", self.admin])
        check(r.returncode == 0, "doveadm director kick: %s" % r.stderr)
        time.sleep(0.5)
        a1, d = alive()
        check(a1 == a - {victim}, "kick closed exactly %s's session: alive %s, closed %s"
              % (victim, sorted(a1), d))
        rst = "ConnectionResetError"
        check(d == ["%s:%s" % (victim, rst)], "with a reset (as Dovecot's kick, no -ERR): %s"
              % d)
        host = where[HOLD[1]]
        addr = BACKENDS[int(host.split("-")[1]) - 1]
        on_host = {u for u in a1 if where[u] == host}
        # flush moves (so kicks) only users whose hash now points elsewhere:
        # the host leaves the ring first, as an operator rebalancing would.
        r = run([DOVEADM, "director", "update", addr, "0", "-a", self.admin])
        check(r.returncode == 0, "doveadm director update %s 0: %s" % (addr, r.stderr))
        r = run([DOVEADM, "director", "flush", addr, "-a", self.admin])
        check(r.returncode == 0, "doveadm director flush %s: %s" % (addr, r.stderr))
        time.sleep(3.5)	# director_user_kick_delay (2 s) and the kicks
        a2, d = alive()
        check(a2 == a1 - on_host, "update 0 + flush %s (%s) closed exactly its %d sessions: "
              "alive %s, closed %s" % (addr, host, len(on_host), sorted(a2), d))
        check(sorted(d) == sorted("%s:%s" % (u, rst) for u in on_host),
              "each with a reset: %s" % d)
        run([DOVEADM, "director", "update", addr, "100", "-a", self.admin])
        mover = next(u for u in sorted(a2) if where[u] != "backend-1")
        r = run([DOVEADM, "director", "move", mover, BACKENDS[0], "-a", self.admin])
        check(r.returncode == 0, "doveadm director move %s %s: %s"
              % (mover, BACKENDS[0], r.stderr))
        time.sleep(3.5)
        a3, d = alive()
        check(a3 == a2 - {mover} and d == ["%s:%s" % (mover, rst)],
              "move closed exactly %s's session, with a reset: alive %s, closed %s"
              % (mover, sorted(a3), d))
        check(director_host(self.admin, mover) == BACKENDS[0], "and %s is pinned to %s now"
              % (mover, BACKENDS[0]))
        # The backend ends a spliced session itself (doveadm kick there, as
        # at a backend's shutdown): its last line and the close reach the
        # client; no kick of ours is counted.
        ender = sorted(a3)[0]
        k = int(where[ender].split("-")[1])
        r = run([DOVEADM, "-c", os.path.join(self.px.lab.bdir(k), "dovecot.conf"), "kick",
                 ender])
        check(r.returncode == 0, "doveadm kick %s on %s: %s" % (ender, where[ender], r.stderr))
        time.sleep(0.5)
        a4, d = alive()
        check(a4 == a3 - {ender} and
              d == ["%s:-ERR_[SYS/TEMP]_Server_shutting_down." % ender],
              "the backend's own kick of %s reaches its client as Dovecot's last line: "
              "alive %s, closed %s" % (ender, sorted(a4), d))
        # A login while its user is being moved waits for the move (the
        # kick delay) and lands on the new backend.
        target = next(b for b in BACKENDS[:4] if b != director_host(self.admin, MOVING))
        r = run([DOVEADM, "director", "move", MOVING, target, "-a", self.admin])
        check(r.returncode == 0, "doveadm director move %s %s: %s" % (MOVING, target, r.stderr))
        r = self.client("one", MOVING)
        m = re.fullmatch(r"ok \+OK Logged in\. (\S+) ([0-9.]+)",
                         (r.stdout.splitlines() + ["", ""])[1])
        check(m is not None and m.group(1) == bname(target) and
              1.5 <= float(m.group(2)) <= 5,
              "a login of %s right after its move to %s waits for the move (about 2 s) and "
              "lands there: %r %s" % (MOVING, target, r.stdout, r.stderr[-300:]))
        closed = 1 + len(on_host) + 1
        self.settle(63 + len(HOLD) + 1, 2, 0, "after the kicks", kicked=before + closed)
        # A kicked session answers RSTs for 5 s before it is freed, a closed
        # one lingers for 5 s after both FINs.
        check(wait_for(lambda: self.gauge("sessions") == len(a4), 8),
              "lcore.N.sessions comes back to the %d sessions still held: %d"
              % (len(a4), self.gauge("sessions")))

    # ---- 5 ----------------------------------------------------------------
    def stopped_backend(self):
        dead = BACKENDS[4]
        user = next((u for u in USERS if director_host(self.admin, u) == dead), None)
        if not check(user is not None, "a user on %s" % dead):
            return
        pid = int(open(os.path.join(self.px.lab.bdir(5), "run", "master.pid")).read())
        os.kill(pid, signal.SIGTERM)
        probe = ("import socket,sys\ntry:\n socket.create_connection((sys.argv[1],110),1)"
                 "\n print('open')\nexcept OSError:\n print('closed')")
        check(wait_for(lambda: run(["ip", "netns", "exec", self.kv["backend_ns"],
                                    sys.executable, "-c", probe, dead]).stdout.strip()
                       == "closed", 15), "backend %s stopped" % dead)
        r = self.client("one", user)
        out = r.stdout.splitlines()
        m = re.fullmatch(r"err (.*) ([0-9.]+)", out[1]) if len(out) > 1 else None
        check(out[:1] == ["user +OK"] and m is not None and
              m.group(1) == "-ERR [SYS/TEMP] Account is temporarily unavailable.",
              "%s on the stopped %s: USER +OK, PASS \"-ERR [SYS/TEMP] Account is "
              "temporarily unavailable.\": %r %s" % (user, dead, out, r.stderr[-300:]))
        check(m is not None and 2.5 <= float(m.group(2)) <= 10,
              "after the retries, 1 s apart: %s s" % (m.group(2) if m else "?"))
        check(out[2:] == ["quit +OK Logging out"], "the connection is still usable: QUIT "
              "%r" % out[2:])
        check(wait_for(lambda: self.gauge("prelogin") == 0, 5),
              "no pre-login session left behind: lcore.N.prelogin %d" % self.gauge("prelogin"))
        c = wait_for(lambda: self.counters().get("login_unavailable") == 1, 5)
        check(c, "lcore.N.pop3.login_unavailable counted it: %s" % self.counters())
        # A client that leaves while its login is being retried: its
        # session goes at once (not after the retries or a timeout).
        r = self.client("leave", user)
        check(r.stdout.split("\n")[:2] == ["+OK", "left"],
              "a client sends USER and PASS for %s and leaves: %r %s"
              % (user, r.stdout, r.stderr[-300:]))
        t = time.monotonic()
        check(wait_for(lambda: self.gauge("prelogin") == 0 and self.gauge("sessions") == 0, 5),
              "its pre-login session is given back: lcore.N.prelogin %d, sessions %d"
              % (self.gauge("prelogin"), self.gauge("sessions")))
        info("given back %.1f s after the client left" % (time.monotonic() - t))
        c = self.counters()
        check(c.get("logins") == 63 + 2 + len(HOLD) + 1 + 2 and
              c.get("login_unavailable") == 1,
              "it counts as a login, not as an answered one: %s" % c)


if __name__ == "__main__":
    sys.exit(main())
