#!/usr/bin/env python3
"""IMAP through the data plane's TCP engine to real Dovecot backends.

Usage: test_imap_proxy.py <path to postmuxctl>
Environment: PM_DATAPLANE, PM_CONTROL (the binaries), PM_WORKERS (worker
       lcores, default 1).
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr): not root, no
       Dovecot, or the lab cannot be made.

With a lab of its own (scripts/netns-lab --prefix i<W><pid % 1000>, five
backends) and five Dovecot instances (backend_lab.py) at 198.51.100.1-5:
postmux-control (director_mail_servers = the five) and postmux-dataplane
with the client and backend ports (net_af_packet) and an IMAP listener on
the VIP 192.0.2.10:143. From the client namespace, with Python's imaplib:
1. 230 users log in through the VIP; each lands on the backend that
   `doveadm director status <user> -a <admin socket>` names (the backend's
   post-login ID reply says which backend it is), and a NOOP, a SELECT and
   a LOGOUT work through the splice.
2. A wrong password gets NO [AUTHENTICATIONFAILED]; the right one then
   works on the same connection, and a failed login as X followed by a good
   one as Y lands on Y's backend.
3. LOGIN and SELECT pipelined in one segment; AUTHENTICATE PLAIN with and
   without SASL-IR; LOGIN with {n} and {n+} literals.
4. The engine's counters agree: logins, splices, failed logins.
5. Kicks on live sessions: `doveadm director kick <user>` closes exactly
   that user's session; `doveadm director update <host> 0` and `flush
   <host>` close exactly the sessions on that backend (after the kick
   delay); `move <user> <host>` closes exactly that user's session and
   pins it there; the others go on.
6. A stopped backend: NO [UNAVAILABLE] after the retries (about 3 s), and
   no pre-login session is left.
"""

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
from backend_lab import BackendLab, BackendError, DOVECOT  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "scripts", "netns-lab")
WORKERS = int(os.environ.get("PM_WORKERS", "1"))
PREFIX = "i%d%d" % (WORKERS, os.getpid() % 1000)
VIP = "192.0.2.10"
BACKENDS = ["198.51.100.%d" % i for i in range(1, 6)]
USERS = ["user%03d" % i for i in range(230)]

CLIENT = r"""
import imaplib, socket, sys, time
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))
vip = sys.argv[1]

def backend_of(m):
    typ, data = m._simple_command("ID", "NIL")
    idl = m.untagged_responses.pop("ID", [b""])[0].decode()
    i = idl.find('"x-backend" "')
    return idl[i + 13:idl.index('"', i + 13)] if i >= 0 else "?"

mode = sys.argv[2]
if mode == "users":
    for u in sys.argv[3:]:
        m = imaplib.IMAP4(vip, 143, timeout=20)
        m.login(u, "pass")
        b = backend_of(m)
        m.noop()
        typ, _ = m.select("INBOX")
        m.logout()
        print(u, b, typ)
elif mode == "retry":
    m = imaplib.IMAP4(vip, 143, timeout=20)
    try:
        m.login(sys.argv[3], "wrong")
        print("wrong-accepted")
    except imaplib.IMAP4.error as e:
        print("wrong:", e)
    m.login(sys.argv[4], "pass")
    print("right", sys.argv[4], backend_of(m))
    m.logout()
elif mode == "hold":
    # Log in every user, then on each "check" line NOOP every session and
    # print which are still alive.
    conns = {}
    for u in sys.argv[3:]:
        m = imaplib.IMAP4(vip, 143, timeout=10)
        m.login(u, "pass")
        conns[u] = (m, backend_of(m))
    print("ready " + " ".join("%s=%s" % (u, b) for u, (m, b) in conns.items()), flush=True)
    for line in sys.stdin:
        alive = []
        for u, (m, b) in conns.items():
            try:
                m.noop()
                alive.append(u)
            except Exception:
                pass
        print("alive " + " ".join(alive), flush=True)
elif mode == "one":
    m = imaplib.IMAP4(vip, 143, timeout=30)
    t = time.time()
    try:
        m.login(sys.argv[3], "pass")
        print("ok", backend_of(m))
    except imaplib.IMAP4.error as e:
        print("no %s %.1f" % (e, time.time() - t))
    except Exception as e:
        print("exception %r %.1f" % (e, time.time() - t))
    try:
        m.logout()
    except Exception:
        pass
elif mode == "auth":
    # AUTHENTICATE PLAIN with SASL-IR (imaplib sends the response on the
    # command line when the server has SASL-IR) and without (by hand), and
    # LOGIN with literals.
    u = sys.argv[3]
    m = imaplib.IMAP4(vip, 143, timeout=20)
    typ, _ = m.authenticate("PLAIN", lambda _: ("\0%s\0pass" % u).encode())
    print("plain-ir", typ, backend_of(m))
    m.logout()
    import base64
    s = socket.create_connection((vip, 143), timeout=20)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a AUTHENTICATE PLAIN\r\n")
    print("continuation", f.readline().decode().strip())
    s.sendall(base64.b64encode(b"\0" + u.encode() + b"\0pass") + b"\r\n")
    print("plain", f.readline().decode().strip())
    s.sendall(b"b LOGOUT\r\n")
    s.close()
    s = socket.create_connection((vip, 143), timeout=20)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN {%d}\r\n" % len(u))
    print("literal-cont", f.readline().decode().strip())
    s.sendall(u.encode() + b" {4+}\r\npass\r\n")
    print("literal", f.readline().decode().strip())
    s.close()
elif mode == "pipeline":
    s = socket.create_connection((vip, 143), timeout=20)
    f = s.makefile("rb")
    print("greeting", f.readline().decode().strip())
    s.sendall(b"a LOGIN %s pass\r\nb SELECT INBOX\r\nc LOGOUT\r\n" % sys.argv[3].encode())
    out = []
    while True:
        line = f.readline()
        if not line:
            break
        out.append(line.decode().strip())
    print("\n".join(out))
"""


def run(args, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          **kw)


def wait_for(pred, timeout, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def main():
    if os.geteuid() != 0:
        skip("needs root (netns, veth, af_packet)")
    dp, ctl = os.environ.get("PM_DATAPLANE"), os.environ.get("PM_CONTROL")
    postmuxctl = sys.argv[1] if len(sys.argv) > 1 else None
    if not dp or not ctl or not postmuxctl:
        skip("PM_DATAPLANE, PM_CONTROL or the postmuxctl argument is missing")
    if not os.access(DOVECOT, os.X_OK):
        skip("no Dovecot")
    r = run([LAB, "up", "--prefix", PREFIX, "--backends", "5"])
    try:
        if r.returncode != 0:
            skip("netns-lab up failed: %s" % r.stderr.strip())
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        body(dp, ctl, postmuxctl, kv)
    finally:
        run([LAB, "down", "--prefix", PREFIX])
    info(pmtest.summary())
    return pmtest.status()


class ProxyLab:
    """Dovecot backends at @backends in the lab, postmux-control and
    postmux-dataplane (@workers worker lcores) with an IMAP listener on the
    VIP, and one more for each of @listeners ("<address> <port> <protocol>",
    the value of a postmux_listener line). A context manager; __exit__ stops
    everything and checks the data plane's exit status and log."""

    def __init__(self, dp, ctl, postmuxctl, kv, workers, prefix, backends=BACKENDS,
                 listeners=()):
        self.dp, self.ctl, self.postmuxctl, self.kv = dp, ctl, postmuxctl, kv
        self.workers, self.prefix, self.backends = workers, prefix, backends
        self.listeners = list(listeners)
        self.lab = BackendLab(kv["backend_ns"], backends)
        self.tmp = tempfile.mkdtemp(prefix="pm-imap-")
        self.admin = os.path.join(self.tmp, "admin")
        self.procs = []

    def __enter__(self):
        try:
            self.lab.start()
        except BackendError as e:
            check(False, "backends start: %s\n%s" % (e, e.log))
            return None
        try:
            return self._start()
        except BaseException:
            # __exit__ does not run when __enter__ raises: stop what runs.
            self.__exit__(None, None, None)
            raise

    def _start(self):
        conf = os.path.join(self.tmp, "postmux.conf")
        cpus = sorted(os.sched_getaffinity(0))
        lcores = ",".join("%d@%d" % (i, cpus[i % len(cpus)]) for i in range(1 + self.workers))
        qp = ",qpairs=%d" % self.workers if self.workers > 1 else ""
        with open(conf, "w") as f:
            f.write("director_mail_servers = %s\n" % " ".join(self.backends))
            # The Submission tests expect this name in the backends'
            # Received: headers (postmux's EHLO to them).
            f.write("hostname = postmux\n")
            f.write("postmux_admin_socket = %s\n" % self.admin)
            f.write("postmux_control_socket = %s/control\n" % self.tmp)
            f.write("postmux_state_file = %s/state\n" % self.tmp)
            f.write("postmux_dpdk_args = --no-huge -m 512 --no-pci --no-shconf "
                    "--file-prefix pm%s --lcores %s\n" % (self.prefix, lcores))
            f.write("postmux_port = client net_af_packet0,iface=%s%s 192.0.2.1/24\n"
                    % (self.kv["client_dp_if"], qp))
            f.write("postmux_port = backend net_af_packet1,iface=%s%s 198.51.100.254/24\n"
                    % (self.kv["backend_dp_if"], qp))
            f.write("postmux_vip = client %s\n" % VIP)
            # IMAP on 143 always; extra listeners as "<addr> <port> <proto>"
            # lines or (port, proto) pairs on the VIP.
            lines = ["%s 143 imap" % VIP]
            for x in self.listeners:
                line = x if isinstance(x, str) else "%s %d %s" % (VIP, x[0], x[1])
                if line not in lines:
                    lines.append(line)
            for line in lines:
                f.write("postmux_listener = %s\n" % line)
            f.write("postmux_lcores = %d\n" % self.workers)
            f.write("postmux_sessions = 4096\n")
            f.write("postmux_prelogin_sessions = 64\n")
        for binary, log in ((self.ctl, "control.log"), (self.dp, "dataplane.log")):
            with open(os.path.join(self.tmp, log), "w") as lf:
                self.procs.append(subprocess.Popen([binary, "-c", conf],
                                                   stdin=subprocess.DEVNULL, stdout=lf,
                                                   stderr=lf))
        n = len(self.backends) * self.workers
        ok = wait_for(lambda: sum(v for k, v in self.stats("lcore.").items()
                                  if k.endswith(".backends")) >= n, 30)
        if not check(ok, "the data plane started and resolves the %d backends:\n%s"
                     % (len(self.backends), self.log()[-3000:])):
            return None
        return self

    def log(self):
        try:
            return open(os.path.join(self.tmp, "dataplane.log")).read()
        except OSError:
            return ""

    def stats(self, prefix=""):
        r = run([self.postmuxctl, "-a", self.admin, "stats", prefix])
        out = {}
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) == 2:
                out[f[0]] = int(f[1])
        return out

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                rc = p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            if p is self.procs[-1]:
                check(rc == 0, "the data plane exits 0 on SIGTERM (got %s)" % rc)
        log = self.log()
        check("ERROR: AddressSanitizer" not in log and "runtime error" not in log,
              "no sanitizer report in the data plane's log")
        if pmtest.status() != 0:
            sys.stdout.write(log[-4000:])
            sys.stdout.write(self.lab.log_text()[-3000:])
        self.lab.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def body(dp, ctl, postmuxctl, kv):
    with ProxyLab(dp, ctl, postmuxctl, kv, WORKERS, PREFIX) as px:
        if px is not None:
            checks(kv, postmuxctl, px.admin, px.stats, px.procs[1], px.lab)
            control_restart(kv, px)


def control_restart(kv, px):
    """postmux-control stops and starts again (an upgrade): spliced
    sessions go on, pins are kept, new logins work meanwhile and after."""
    # Not on the backend stopped_backend() stopped.
    live = [u for u in ("upg%02d" % i for i in range(40))
            if director_host(px.admin, u) != BACKENDS[4]]
    users, newcomer = live[:4], live[4]
    p = subprocess.Popen(["ip", "netns", "exec", kv["client_ns"], sys.executable, "-c",
                          CLIENT, VIP, "hold"] + users, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().split()
        if not check(line[:1] == ["ready"], "4 sessions held before the restart: %r" % line):
            return
        before = {u: director_host(px.admin, u) for u in users}
        ctl = px.procs[0]
        ctl.send_signal(signal.SIGTERM)
        check(ctl.wait(timeout=15) == 0, "postmux-control exits 0 on SIGTERM")
        # Without postmux-control the data plane keeps serving.
        r = run(["ip", "netns", "exec", kv["client_ns"], sys.executable, "-c", CLIENT, VIP,
                 "one", newcomer])
        check(r.stdout.startswith("ok backend-"), "a login while postmux-control is down "
              "works: %r %s" % (r.stdout, r.stderr[-300:]))
        with open(os.path.join(px.tmp, "control.log"), "a") as lf:
            px.procs[0] = subprocess.Popen([px.ctl, "-c", os.path.join(px.tmp, "postmux.conf")],
                                           stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
        check(wait_for(lambda: run(["doveadm", "director", "status", "-a", px.admin])
                       .returncode == 0, 15), "postmux-control is back")
        p.stdin.write("check\n")
        p.stdin.flush()
        alive = set(p.stdout.readline().split()[1:])
        check(alive == set(users), "the spliced sessions survived the restart: alive %s"
              % sorted(alive))
        after = {u: director_host(px.admin, u) for u in users}
        check(after == before, "their pins were kept: %s, before %s" % (after, before))
    finally:
        p.stdin.close()
        p.terminate()
        p.wait(timeout=10)


def director_status(admin, user):
    """(current, hashed) from doveadm director status: current is the
    pinned host or None."""
    r = run(["doveadm", "director", "status", user, "-a", admin])
    cur = hashed = None
    for line in r.stdout.splitlines():
        m = re.match(r"(Current|Hashed): (\S+)", line)
        if m and m.group(1) == "Current" and m.group(2) != "n/a":
            cur = m.group(2)
        elif m and m.group(1) == "Hashed":
            hashed = m.group(2)
    return cur, hashed


def director_host(admin, user):
    cur, hashed = director_status(admin, user)
    return cur or hashed


def checks(kv, postmuxctl, admin, stats, proc, lab):
    cns = kv["client_ns"]
    r = run(["ip", "netns", "exec", cns, sys.executable, "-c", CLIENT, VIP, "users"] + USERS,
            timeout=300)
    lines = r.stdout.splitlines()
    check(len(lines) == len(USERS), "%d users logged in (%d): %s" % (
        len(USERS), len(lines), r.stderr[-2000:]))
    wrong = 0
    spread = {}
    for line in lines:
        user, backend, typ = line.split()
        want = director_host(admin, user)
        want_name = "backend-%d" % (BACKENDS.index(want) + 1) if want in BACKENDS else "?"
        spread[backend] = spread.get(backend, 0) + 1
        if backend != want_name or typ != "OK":
            wrong += 1
            info("%s landed on %s (SELECT %s), the director says %s" % (user, backend, typ,
                                                                         want))
    info("spread: %s" % sorted(spread.items()))
    check(wrong == 0 and len(lines) == len(USERS),
          "every user on the backend the director names, NOOP/SELECT/LOGOUT work")
    check(len(spread) >= 3, "users spread over several backends: %s" % spread)
    # Every login pinned its user (the worker asks the ctl thread).
    unpinned = [u for u in USERS if director_status(admin, u)[0] is None]
    check(not unpinned, "doveadm director status shows a pin (Current) for every user "
          "that logged in; unpinned: %s" % unpinned[:5])
    check(stats("director.").get("director.pins") == len(USERS),
          "director.pins is %d: %s" % (len(USERS), stats("director.").get("director.pins")))

    # Wrong password, then the right one (as another user) on one connection.
    x, y = USERS[0], USERS[1]
    want_y = director_host(admin, y)
    r = run(["ip", "netns", "exec", cns, sys.executable, "-c", CLIENT, VIP, "retry", x, y])
    out = r.stdout
    check("wrong: b'[AUTHENTICATIONFAILED] Authentication failed.'" in out,
          "a wrong password gets NO [AUTHENTICATIONFAILED]: %r %s" % (out, r.stderr[-500:]))
    check(("right %s backend-%d" % (y, BACKENDS.index(want_y) + 1)) in out,
          "then %s logs in on the same connection, on its own backend %s: %r"
          % (y, want_y, out))

    # LOGIN and SELECT pipelined in one segment.
    r = run(["ip", "netns", "exec", cns, sys.executable, "-c", CLIENT, VIP, "pipeline",
             USERS[2]])
    out = r.stdout
    check(re.search(r"^a OK \[CAPABILITY [^\]]*\] Logged in", out, re.M) is not None and
          re.search(r"^b OK \[READ-WRITE\] Select completed", out, re.M) is not None and
          "c OK Logout completed" in out,
          "LOGIN+SELECT+LOGOUT pipelined: %r %s" % (out, r.stderr[-500:]))

    # AUTHENTICATE PLAIN both ways, LOGIN with literals.
    r = run(["ip", "netns", "exec", cns, sys.executable, "-c", CLIENT, VIP, "auth",
             USERS[3]])
    out = r.stdout
    want_b = "backend-%d" % (BACKENDS.index(director_host(admin, USERS[3])) + 1)
    check(("plain-ir OK %s" % want_b) in out, "AUTHENTICATE PLAIN with SASL-IR lands on "
          "%s: %r %s" % (want_b, out, r.stderr[-500:]))
    check("continuation +" in out and re.search(r"^plain a OK \[CAPABILITY", out, re.M),
          "AUTHENTICATE PLAIN without SASL-IR: %r" % out)
    check("literal-cont + OK" in out and re.search(r"^literal a OK \[CAPABILITY", out, re.M),
          "LOGIN with a synchronising and a non-synchronising literal: %r" % out)

    # The workers publish the engine's counters every 100 ms.
    want = len(USERS) + 2 + 3

    def settled():
        st = stats("lcore.")
        n = sum(v for k, v in st.items() if k.endswith(".tcp.login_ok"))
        return st if n >= want else None
    st = wait_for(settled, 5) or stats("lcore.")
    tot = lambda n: sum(v for k, v in st.items() if k.endswith(".tcp." + n))  # noqa: E731
    info("engine: %s" % {n: tot(n) for n in ("logins", "login_ok", "login_failed",
                                              "splices", "forwarded", "syn_cookies",
                                              "accepted", "closed")})
    # Sessions that log out right behind their login (the pipelined one,
    # the hand-made ones) may end before they are spliced.
    check(tot("login_ok") == want and want - 3 <= tot("splices") <= want,
          "the engine counted %d logins and as many splices (but those that "
          "ended at once)" % want)
    check(tot("login_failed") == 1, "and one failed login")
    ptot = lambda n: sum(v for k, v in st.items() if k.endswith(".imap." + n))  # noqa: E731
    check(ptot("login_ok") == want and ptot("login_failed") == 1 and
          ptot("splices") == tot("splices"),
          "the IMAP counters (lcore.N.imap.*) count the same logins and splices")
    check(tot("forwarded") > 0, "packets were forwarded through the splice")
    kicks(kv, admin)
    stopped_backend(kv, admin, stats, lab)
    check(proc.poll() is None, "the data plane is still running")


def stopped_backend(kv, admin, stats, lab):
    """A user whose backend is stopped gets NO [UNAVAILABLE] after
    Dovecot's retries, and the pre-login memory is all given back."""
    dead = BACKENDS[4]
    user = next((u for u in USERS if director_host(admin, u) == dead), None)
    if not check(user is not None, "a user on %s" % dead):
        return
    pid = int(open(os.path.join(lab.bdir(5), "run", "master.pid")).read())
    os.kill(pid, signal.SIGTERM)
    # Stopped means: nothing accepts on its IMAP port any more (the master's
    # children may outlive it for a moment).
    probe = ("import socket,sys\ntry:\n socket.create_connection((sys.argv[1],143),1)"
             "\n print('open')\nexcept OSError:\n print('closed')")
    check(wait_for(lambda: run(["ip", "netns", "exec", kv["backend_ns"], sys.executable,
                                "-c", probe, dead]).stdout.strip() == "closed", 15),
          "backend %s stopped" % dead)
    r = run(["ip", "netns", "exec", kv["client_ns"], sys.executable, "-c", CLIENT, VIP, "one",
             user])
    out = r.stdout.strip()
    check(out.startswith("no b'[UNAVAILABLE]"), "%s on the stopped %s: %r %s"
          % (user, dead, out, r.stderr[-300:]))
    m = re.search(r" ([0-9.]+)$", out)
    check(m is not None and 2.5 <= float(m.group(1)) <= 10,
          "after the retries, 1 s apart: %s s" % (m.group(1) if m else "?"))

    def drained():
        st = stats("lcore.")
        n = sum(v for k, v in st.items() if k.endswith(".prelogin"))
        return n == 0
    check(wait_for(drained, 5), "no pre-login session left behind")


def kicks(kv, admin):
    users = ["hold%02d" % i for i in range(12)]
    p = subprocess.Popen(["ip", "netns", "exec", kv["client_ns"], sys.executable, "-c",
                          CLIENT, VIP, "hold"] + users, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().split()
        if not check(line[:1] == ["ready"], "12 sessions held: %r %s" % (line, "")):
            return
        where = dict(x.split("=") for x in line[1:])

        def alive():
            p.stdin.write("check\n")
            p.stdin.flush()
            return set(p.stdout.readline().split()[1:])
        check(alive() == set(users), "all 12 sessions alive")
        victim = users[0]
        r = run(["doveadm", "director", "kick", victim, "-a", admin])
        check(r.returncode == 0, "doveadm director kick: %s" % r.stderr)
        time.sleep(0.5)
        a = alive()
        check(a == set(users) - {victim}, "kick closed exactly %s's session: alive %s"
              % (victim, sorted(a)))
        host = where[users[1]]
        addr = BACKENDS[int(host.split("-")[1]) - 1]
        on_host = {u for u in users if where[u] == host}
        # flush moves (and so kicks) only users whose hash now points
        # elsewhere: take the host out of the ring first, as an operator
        # rebalancing would.
        r = run(["doveadm", "director", "update", addr, "0", "-a", admin])
        check(r.returncode == 0, "doveadm director update %s 0: %s" % (addr, r.stderr))
        r = run(["doveadm", "director", "flush", addr, "-a", admin])
        check(r.returncode == 0, "doveadm director flush %s: %s" % (addr, r.stderr))
        time.sleep(3.5)	# director_user_kick_delay (2 s) and the kicks
        a2 = alive()
        check(a2 == a - on_host, "update 0 + flush %s (%s) closed exactly its %d sessions: "
              "alive %s" % (addr, host, len(on_host), sorted(a2)))
        run(["doveadm", "director", "update", addr, "100", "-a", admin])
        # move: the user's session is closed, the user now maps elsewhere.
        mover = next(u for u in sorted(a2) if where[u] != "backend-1")
        r = run(["doveadm", "director", "move", mover, BACKENDS[0], "-a", admin])
        check(r.returncode == 0, "doveadm director move %s %s: %s" % (mover, BACKENDS[0],
                                                                     r.stderr))
        time.sleep(3.5)
        a3 = alive()
        check(a3 == a2 - {mover}, "move closed exactly %s's session: alive %s"
              % (mover, sorted(a3)))
        check(director_host(admin, mover) == BACKENDS[0], "and %s is pinned to %s now"
              % (mover, BACKENDS[0]))
    finally:
        p.stdin.close()
        p.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
