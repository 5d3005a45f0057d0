#!/usr/bin/env python3
"""ManageSieve through the data plane's TCP engine to real Dovecot/Pigeonhole
backends.

Usage: test_sieve_proxy.py <path to postmuxctl>
Environment: PM_DATAPLANE, PM_CONTROL (the binaries), PM_WORKERS (worker
       lcores, default 1).
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr): not root, no
       Dovecot or no ManageSieve, or the lab cannot be made.

With a lab of its own (scripts/netns-lab --prefix v<W><pid % 1000>, four
backends), four Dovecot instances serving ManageSieve on 4190
(backend_lab.py: managesieve_implementation_string = backend-K, scripts in
the user's ~/sieve) at 198.51.100.1-4, postmux-control and postmux-dataplane
with a ManageSieve listener on the VIP 192.0.2.10:4190
(test_imap_proxy.ProxyLab). From the client namespace (192.0.2.2), with
the test's own client (sieve_client.py, RFC 5804):
1. 40 users log in with AUTHENTICATE "PLAIN", by turns with the initial
   response as a quoted string, as a literal {n+}, as a literal {n}, and
   without one (the challenge "", then the response quoted or as a
   literal). The greeting is postmux's (IMPLEMENTATION "Dovecot
   Pigeonhole", SASL "PLAIN"); the login's answer is the backend's OK
   "Logged in." as it came; CAPABILITY after it names the backend
   (IMPLEMENTATION "backend-K"), which is the one `doveadm director status
   <user> -a <admin socket>` names, and only that backend's log has the
   user's login. Every 4th user PUTSCRIPTs a small script, LISTSCRIPTS and
   GETSCRIPTs it; NOOP and LOGOUT work.
2. XCLIENT reaches the backends: every ManageSieve login in their logs has
   rip=192.0.2.2 (the client's address, not the data plane's
   198.51.100.254) and the session id XCLIENT carried (16 hex digits, the
   data plane's, not a Dovecot-made one).
3. A script of about 80 KiB (8-bit text, CRLF and bare LF lines, one line
   of 4 KiB) PUTSCRIPTed, SETACTIVEd and GETSCRIPTed back through the
   splice byte for byte; the backend's disk has the same bytes.
4. AUTHENTICATE, CAPABILITY, NOOP and LOGOUT pipelined in one segment:
   the answers in order, the last three from the backend.
5. Kicks on live sessions: `doveadm director kick <user>` closes exactly
   that user's session, `update <host> 0` + `flush <host>` exactly those on
   that backend (after the kick delay); the kicked clients see their
   connection closed (not a timeout), the backends see theirs reset, the
   other sessions still answer NOOP.
6. A wrong password as X gets NO "Authentication failed."; a good login
   as Y (on another backend) on the same connection then lands on Y's
   backend; a wrong password as X then the right one as X, on one
   connection, lands on X's backend; and so do a wrong and a right
   AUTHENTICATE, CAPABILITY and LOGOUT sent in one segment.
7. The engine's counters agree: lcore.N.sieve.logins, login_ok,
   login_failed, login_unavailable, splices, kicked (and they equal the
   lcore.N.tcp.* totals: no IMAP here); with two workers, both logged
   users in.
8. A stopped backend: NO (TRYLATER) "Account is temporarily unavailable."
   (sieve.h, sieveback.h) after the retries (about 3 s), the connection
   still takes LOGOUT; sieve.login_unavailable counts it, and no
   pre-login session is left (lcore.N.prelogin 0).

Dovecot's auth penalty (anvil, keyed on the client address XCLIENT gives
it) delays the next login on a backend after a failed one from the same
address, until one succeeds: the failure checks run after the others, the
one that leaves a penalty first, the one that clears it (a success on that
backend) after.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, info, skip  # noqa: E402
from backend_lab import DOVECOT, MANAGESIEVE  # noqa: E402
from sieve_client import FORMS, big_script  # noqa: E402
from test_imap_proxy import (LAB, VIP, ProxyLab, director_host, director_status, run,  # noqa: E402
                             wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = int(os.environ.get("PM_WORKERS", "1"))
PREFIX = "v%d%d" % (WORKERS, os.getpid() % 1000)
BACKENDS = ["198.51.100.%d" % i for i in range(1, 5)]
CLIENT_ADDR = "192.0.2.2"
PORT = 4190
USERS = ["sv%03d" % i for i in range(40)]
BIG_SIZE = 80 * 1024
# The data plane's ManageSieve greeting (proto/sieve.h defaults).
GREETING = 'OK "postmux ready."'
IMPLEMENTATION = "Dovecot Pigeonhole"

CLIENT = r"""
import json, socket, sys, time
sys.path.insert(0, @HERE@)
import sieve_client
from sieve_client import Client, big_script
vip, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def out(**kw):
    print(json.dumps(kw), flush=True)

def small_script(user):
    return ('require "fileinto";\r\n# %s\r\nif header :is "x-user" "%s" '
            '{ fileinto "INBOX.%s"; }\r\n' % (user, user, user)).encode()

if mode == "users":
    # user:form[:script] ...
    for arg in sys.argv[4:]:
        user, form, script = (arg.split(":") + [""])[:3]
        c = Client(vip, port, timeout=30)
        r = {"user": user, "form": form, "greeting": c.greeting.raw, "caps": c.caps}
        r["auth"] = c.authenticate_plain(user, "pass", form=form).raw
        caps, cr = c.capability()
        r["backend"] = caps.get("IMPLEMENTATION", "?")
        r["capability"] = cr.raw
        if script:
            s = small_script(user)
            r["put"] = c.putscript("s-" + user, s).raw
            names, lr = c.listscripts()
            r["list"] = [n for n, a in names]
            got, gr = c.getscript("s-" + user)
            r["get"] = got == s
        r["noop"] = c.noop().raw
        r["logout"] = c.logout().raw
        out(**r)
elif mode == "script":
    user, size = sys.argv[4], int(sys.argv[5])
    s = big_script(user, size)
    c = Client(vip, port, timeout=30)
    r = {"auth": c.authenticate_plain(user, "pass").raw}
    r["backend"] = c.capability()[0].get("IMPLEMENTATION", "?")
    r["put"] = c.putscript("big", s).raw
    r["active"] = c.setactive("big").raw
    names, lr = c.listscripts()
    r["list"] = names
    got, gr = c.getscript("big")
    r["get"] = gr.raw.splitlines()[-1]
    r["equal"] = got == s
    r["size"] = len(s)
    r["got"] = len(got) if got is not None else -1
    if got != s and got is not None:
        r["first_diff"] = next((i for i, (a, b) in enumerate(zip(got, s)) if a != b),
                               min(len(got), len(s)))
    r["logout"] = c.logout().raw
    out(**r)
elif mode == "pipeline":
    import base64
    user = sys.argv[4]
    s = socket.create_connection((vip, port), timeout=30)
    f = s.makefile("rb")
    while not f.readline().upper().startswith(b"OK"):
        pass
    ir = base64.b64encode(b"\0" + user.encode() + b"\0pass")
    s.sendall(b'AUTHENTICATE "PLAIN" "' + ir + b'"\r\nCAPABILITY\r\nNOOP\r\nLOGOUT\r\n')
    lines = []
    while True:
        l = f.readline()
        if not l:
            break
        lines.append(l.decode().rstrip("\r\n"))
    out(lines=lines)
elif mode == "pipefail":
    # A wrong and a right AUTHENTICATE, CAPABILITY and LOGOUT in one
    # segment: what comes after the failed login is read as commands again.
    import base64
    user = sys.argv[4]
    s = socket.create_connection((vip, port), timeout=30)
    f = s.makefile("rb")
    while not f.readline().upper().startswith(b"OK"):
        pass
    auth = lambda pw: (b'AUTHENTICATE "PLAIN" "' +
                       base64.b64encode(b"\0" + user.encode() + b"\0" + pw) + b'"\r\n')
    s.sendall(auth(b"wrong") + auth(b"pass") + b"CAPABILITY\r\nLOGOUT\r\n")
    lines = []
    while True:
        l = f.readline()
        if not l:
            break
        lines.append(l.decode().rstrip("\r\n"))
    out(lines=lines)
elif mode == "retry":
    # A wrong password as X, then the right one as Y, on one connection.
    x, y = sys.argv[4], sys.argv[5]
    c = Client(vip, port, timeout=30)
    t = time.time()
    wrong = c.authenticate_plain(x, "wrong").raw
    tw = time.time() - t
    t = time.time()
    right = c.authenticate_plain(y, "pass", form="literal").raw
    tr = time.time() - t
    b = c.capability()[0].get("IMPLEMENTATION", "?")
    out(wrong=wrong, right=right, backend=b, noop=c.noop().raw, logout=c.logout().raw,
        t_wrong=round(tw, 1), t_right=round(tr, 1))
elif mode == "hold":
    # Log in every user, then on each "check" line NOOP every session and
    # print which are still alive and how the others ended.
    conns = {}
    for u in sys.argv[4:]:
        c = Client(vip, port, timeout=10)
        r = c.authenticate_plain(u, "pass")
        if not r.ok:
            print("failed %s %s" % (u, r.raw), flush=True)
            sys.exit(1)
        conns[u] = (c, c.capability()[0].get("IMPLEMENTATION", "?"))
    print("ready " + " ".join("%s=%s" % (u, b) for u, (c, b) in conns.items()), flush=True)
    dead = {}
    for line in sys.stdin:
        alive = []
        for u, (c, b) in conns.items():
            if u in dead:
                continue
            try:
                r = c.noop()
                if r.ok:
                    alive.append(u)
                else:
                    dead[u] = "NO"
            except Exception as e:
                dead[u] = type(e).__name__
        print("alive " + " ".join(alive) + " | dead " +
              " ".join("%s=%s" % kv for kv in sorted(dead.items())), flush=True)
elif mode == "one":
    c = Client(vip, port, timeout=30)
    t = time.time()
    try:
        r = c.authenticate_plain(sys.argv[4], "pass")
        res = r.raw
    except Exception as e:
        res = "exception %r" % e
    dt = time.time() - t
    try:
        lo = c.logout().raw
    except Exception as e:
        lo = "exception %r" % e
    out(auth=res, t=round(dt, 1), logout=lo)
""".replace("@HERE@", repr(HERE))


def client(cns, *args, timeout=300):
    return run(["ip", "netns", "exec", cns, sys.executable, "-c", CLIENT, VIP, str(PORT)] +
               list(args), timeout=timeout)


def jlines(r):
    out = []
    for line in r.stdout.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"junk": line})
    return out


def name_of(addr):
    return "backend-%d" % (BACKENDS.index(addr) + 1) if addr in BACKENDS else "?"


def main():
    if os.geteuid() != 0:
        skip("needs root (netns, veth, af_packet)")
    dp, ctl = os.environ.get("PM_DATAPLANE"), os.environ.get("PM_CONTROL")
    postmuxctl = sys.argv[1] if len(sys.argv) > 1 else None
    if not dp or not ctl or not postmuxctl:
        skip("PM_DATAPLANE, PM_CONTROL or the postmuxctl argument is missing")
    if not os.access(DOVECOT, os.X_OK):
        skip("no Dovecot")
    if not os.access(MANAGESIEVE, os.X_OK):
        skip("no Dovecot ManageSieve (Debian: dovecot-managesieved dovecot-sieve)")
    t0 = time.monotonic()
    r = run([LAB, "up", "--prefix", PREFIX, "--backends", str(len(BACKENDS))])
    try:
        if r.returncode != 0:
            skip("netns-lab up failed: %s" % r.stderr.strip())
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        with ProxyLab(dp, ctl, postmuxctl, kv, WORKERS, PREFIX, BACKENDS,
                      listeners=["%s %d sieve" % (VIP, PORT)]) as px:
            if px is not None:
                checks(kv, px)
    finally:
        run([LAB, "down", "--prefix", PREFIX])
    info("%s (%.0f s)" % (pmtest.summary(), time.monotonic() - t0))
    return pmtest.status()


class Expect:
    """What the engine's ManageSieve counters must say, as the test counts."""

    def __init__(self):
        self.logins = self.ok = self.failed = self.unavailable = self.kicked = 0


def logins_of(lab, k, user):
    """The managesieve-login "Login:" lines of @user in backend @k's log."""
    return re.findall(r"managesieve-login: Info: Login: user=<%s>, .*" % re.escape(user),
                      lab.log_of(k))


def timed(what, fn, *args):
    t = time.monotonic()
    fn(*args)
    info("%s: %.1f s" % (what, time.monotonic() - t))


def checks(kv, px):
    cns = kv["client_ns"]
    exp = Expect()
    timed("users", users, cns, px, exp)
    timed("big script", big, cns, px, exp)
    timed("pipeline", pipeline, cns, px, exp)
    timed("kicks", kicks, cns, px, exp)
    timed("failures", failures, cns, px, exp)
    counters(px, exp)
    timed("stopped backend", stopped_backend, kv, px, exp)
    check(px.procs[1].poll() is None, "the data plane is still running")


def users(cns, px, exp):
    args = ["%s:%s%s" % (u, FORMS[i % len(FORMS)], ":script" if i % 4 == 0 else "")
            for i, u in enumerate(USERS)]
    r = client(cns, "users", *args)
    res = jlines(r)
    check(len(res) == len(USERS) and all("user" in x for x in res),
          "%d users logged in (%d): %s %s" % (len(USERS), len(res), res[-1:],
                                               r.stderr[-2000:]))
    done = [x for x in res if "user" in x]
    exp.logins += len(done)
    exp.ok += len(done)
    wrong, spread, forms, scripts = [], {}, {}, 0
    for x in done:
        user = x["user"]
        want = name_of(director_host(px.admin, user))
        spread[x["backend"]] = spread.get(x["backend"], 0) + 1
        forms[x["form"]] = forms.get(x["form"], 0) + 1
        bad = []
        if x["greeting"] != GREETING or x["caps"].get("IMPLEMENTATION") != IMPLEMENTATION \
                or x["caps"].get("SASL") != "PLAIN" or x["caps"].get("VERSION") != "1.0":
            bad.append("greeting %r %r" % (x["greeting"], x["caps"]))
        if x["auth"] != 'OK "Logged in."':
            bad.append("auth %r" % x["auth"])
        if x["backend"] != want:
            bad.append("on %s, the director says %s" % (x["backend"], want))
        if x["capability"] != 'OK "Capability completed."':
            bad.append("capability %r" % x["capability"])
        if "put" in x:
            scripts += 1
            if x["put"] != 'OK "PUTSCRIPT completed."' or x["list"] != ["s-" + user] or \
                    x["get"] is not True:
                bad.append("script %r %r %r" % (x["put"], x["list"], x["get"]))
        if x["noop"] != 'OK "NOOP Completed"' or x["logout"] != 'OK "Logout completed."':
            bad.append("noop/logout %r %r" % (x["noop"], x["logout"]))
        if bad:
            wrong.append("%s (%s): %s" % (user, x["form"], "; ".join(bad)))
    info("spread: %s; forms: %s" % (sorted(spread.items()), sorted(forms.items())))
    check(not wrong and len(done) == len(USERS),
          "every user got postmux's greeting, the backend's OK \"Logged in.\", and "
          "CAPABILITY names the backend the director names: %s" % wrong[:5])
    check(len(spread) >= 3, "users spread over several backends: %s" % spread)
    check(set(forms) == set(FORMS), "every AUTHENTICATE form was used: %s" % forms)
    check(scripts == len(USERS[::4]), "%d users stored, listed and read a script (%d)"
          % (len(USERS[::4]), scripts))
    # The scripts are on the disk of the user's backend.
    bad = []
    for x in done:
        if "put" not in x:
            continue
        k = int(x["backend"].split("-")[1]) if x["backend"].startswith("backend-") else 0
        on = [j for j in range(1, len(BACKENDS) + 1)
              if px.lab.sieve_scripts(j, x["user"])]
        if on != [k]:
            bad.append("%s: %s, on disk at %s" % (x["user"], x["backend"], on))
    check(not bad, "each script is on its user's backend only: %s" % bad[:5])
    unpinned = [u for u in USERS if director_status(px.admin, u)[0] is None]
    check(not unpinned, "every user that logged in is pinned; unpinned: %s" % unpinned[:5])

    # The backends' logs: each user's login on its backend only, with the
    # client's address and the data plane's session id (XCLIENT ADDR and
    # SESSION), never the data plane's address.
    def from_logs():
        misplaced, bad_xclient = [], []
        for x in done:
            user, backend = x["user"], x["backend"]
            k = int(backend.split("-")[1]) if backend.startswith("backend-") else 0
            where = [j for j in range(1, len(BACKENDS) + 1) if logins_of(px.lab, j, user)]
            if where != [k]:
                misplaced.append("%s: %s, logs %s" % (user, backend, where))
            for line in logins_of(px.lab, k, user) if k else []:
                if "rip=%s," % CLIENT_ADDR not in line or \
                        not re.search(r"session=<[0-9a-f]{16}>", line):
                    bad_xclient.append(line)
        return misplaced, bad_xclient

    def placed():
        r = from_logs()
        return r if not r[0] else None
    # Dovecot's log process writes a moment after the login.
    misplaced, bad_xclient = wait_for(placed, 5) or from_logs()
    check(not misplaced, "each user's login is in its backend's log only: %s" % misplaced[:5])
    check(not bad_xclient and done, "XCLIENT: the backends log the client's address "
          "rip=%s and the data plane's session id for every login: %s"
          % (CLIENT_ADDR, bad_xclient[:3]))
    all_logs = "".join(px.lab.log_of(k) for k in range(1, len(BACKENDS) + 1))
    check("rip=198.51.100.254" not in all_logs,
          "no backend log line names the data plane's address as the client")


def big(cns, px, exp):
    user = "bigsieve"
    want = name_of(director_host(px.admin, user))
    r = client(cns, "script", user, str(BIG_SIZE))
    res = jlines(r)
    x = res[0] if len(res) == 1 else {}
    exp.logins += 1
    exp.ok += 1 if x.get("auth") == 'OK "Logged in."' else 0
    info("big script: %s" % {k: v for k, v in x.items() if k != "list"})
    check(x.get("auth") == 'OK "Logged in."' and x.get("backend") == want,
          "%s logs in on %s: %r %s" % (user, want, x, r.stderr[-1000:]))
    check(x.get("put") == 'OK "PUTSCRIPT completed."' and
          x.get("active") == 'OK "Setactive completed."' and x.get("list") == [["big", True]],
          "a %d-byte script PUTSCRIPTed and made active through the splice: %r"
          % (BIG_SIZE, x))
    check(x.get("equal") is True and x.get("get") == 'OK "Getscript completed."',
          "GETSCRIPT returns it byte for byte (%s of %s bytes%s)"
          % (x.get("got"), x.get("size"),
             ", first difference at %s" % x["first_diff"] if "first_diff" in x else ""))
    k = int(want.split("-")[1]) if want.startswith("backend-") else 0
    on_disk = px.lab.sieve_scripts(k, user).get("big") if k else None
    check(on_disk == big_script(user, BIG_SIZE),
          "the backend's disk has the same %d bytes (%s)"
          % (BIG_SIZE, len(on_disk) if on_disk is not None else None))


def pipeline(cns, px, exp):
    user = "pipe000"
    want = name_of(director_host(px.admin, user))
    r = client(cns, "pipeline", user)
    res = jlines(r)
    lines = res[0].get("lines", []) if len(res) == 1 else []
    exp.logins += 1
    exp.ok += 1
    caps = dict(re.findall(r'^"([A-Z]+)"(?: "([^"]*)")?$', "\n".join(lines), re.M))
    check(lines[:1] == ['OK "Logged in."'] and caps.get("IMPLEMENTATION") == want and
          lines[-3:] == ['OK "Capability completed."', 'OK "NOOP Completed"',
                         'OK "Logout completed."'],
          "AUTHENTICATE, CAPABILITY, NOOP and LOGOUT in one segment: the backend (%s) "
          "answers all but the first: %r %s" % (want, lines, r.stderr[-500:]))


def failures(cns, px, exp):
    x = USERS[1]
    bx = director_host(px.admin, x)
    y = next(u for u in USERS if director_host(px.admin, u) not in (bx, BACKENDS[-1]))
    # X fails on bx (a penalty there), Y logs in elsewhere; then X fails
    # again and logs in on bx, which clears the penalty.
    for who in (y, x):
        r = client(cns, "retry", x, who)
        res = jlines(r)
        o = res[0] if len(res) == 1 else {}
        info("wrong as %s, then %s: %s" % (x, who, o))
        check(o.get("wrong") == 'NO "Authentication failed."',
              "a wrong password as %s gets NO \"Authentication failed.\": %r %s"
              % (x, o, r.stderr[-500:]))
        want = name_of(director_host(px.admin, who))
        check(o.get("right") == 'OK "Logged in."' and o.get("backend") == want and
              o.get("noop") == 'OK "NOOP Completed"',
              "then %s logs in on the same connection, on its own backend %s: %r"
              % (who, want, o))
        exp.logins += 2
        exp.failed += 1
        exp.ok += 1
    # Pipelined, once X's backend has no penalty for us (the success above).
    want = name_of(bx)
    r = client(cns, "pipefail", x)
    res = jlines(r)
    lines = res[0].get("lines", []) if len(res) == 1 else []
    caps = dict(re.findall(r'^"([A-Z]+)"(?: "([^"]*)")?$', "\n".join(lines), re.M))
    check(lines[:2] == ['NO "Authentication failed."', 'OK "Logged in."'] and
          caps.get("IMPLEMENTATION") == want and
          lines[-2:] == ['OK "Capability completed."', 'OK "Logout completed."'],
          "a wrong and a right AUTHENTICATE, CAPABILITY and LOGOUT in one segment: NO, "
          "then the backend (%s) answers the rest: %r %s" % (want, lines, r.stderr[-500:]))
    exp.logins += 2
    exp.failed += 1
    exp.ok += 1


def counters(px, exp):
    def settled():
        st = px.stats("lcore.")
        n = sum(v for k, v in st.items() if k.endswith(".sieve.login_ok"))
        return st if n >= exp.ok else None
    st = wait_for(settled, 5) or px.stats("lcore.")
    tot = lambda p, n: sum(v for k, v in st.items() if k.endswith(".%s.%s" % (p, n)))  # noqa
    names = ("logins", "login_ok", "login_failed", "login_unavailable", "splices", "kicked")
    info("sieve: %s" % {n: tot("sieve", n) for n in names})
    for n, want in (("logins", exp.logins), ("login_ok", exp.ok),
                    ("login_failed", exp.failed), ("login_unavailable", exp.unavailable),
                    ("kicked", exp.kicked)):
        check(tot("sieve", n) == want, "sieve.%s is %d: %d" % (n, want, tot("sieve", n)))
    # The engine splices a session once both of its connections are quiet
    # after the login; one that ends before that is proxied to its end and
    # not counted: the two pipelined ones always, now and then a short one.
    check(exp.ok - 4 <= tot("sieve", "splices") <= exp.ok,
          "sieve.splices is %d, or up to 4 less: %d" % (exp.ok, tot("sieve", "splices")))
    check(all(tot("sieve", n) == tot("tcp", n) for n in names),
          "the engine's tcp.* totals count the same (no IMAP here)")
    check(tot("imap", "logins") == 0, "no IMAP login was counted")
    check(tot("tcp", "forwarded") > 0, "packets were forwarded through the splice")
    per = {k: v for k, v in st.items() if k.endswith(".sieve.logins")}
    info("per lcore: %s" % per)
    check(len(per) == WORKERS and all(per.values()),
          "each of the %d worker lcores logged ManageSieve users in: %s" % (WORKERS, per))


CLOSED = ("EOFError", "ConnectionResetError", "BrokenPipeError")


def kicks(cns, px, exp):
    users = ["hold%02d" % i for i in range(10)]
    p = subprocess.Popen(["ip", "netns", "exec", cns, sys.executable, "-c", CLIENT, VIP,
                          str(PORT), "hold"] + users, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().split()
        if not check(line[:1] == ["ready"], "10 sessions held: %r" % line):
            return
        exp.logins += len(users)
        exp.ok += len(users)
        where = dict(x.split("=") for x in line[1:])
        check(all(where[u] == name_of(director_host(px.admin, u)) for u in users),
              "each on the backend the director names: %s" % where)

        def alive():
            p.stdin.write("check\n")
            p.stdin.flush()
            f = p.stdout.readline().split("|")
            return set(f[0].split()[1:]), dict(x.split("=") for x in f[1].split()[1:])
        a, dead = alive()
        check(a == set(users), "all 10 sessions alive: %s" % sorted(a))
        victim = users[0]
        vk = int(where[victim].split("-")[1])
        r = run(["doveadm", "director", "kick", victim, "-a", px.admin])
        check(r.returncode == 0, "doveadm director kick: %s" % r.stderr)
        time.sleep(0.5)
        a, dead = alive()
        check(a == set(users) - {victim}, "kick closed exactly %s's session: alive %s"
              % (victim, sorted(a)))
        exp.kicked += 1
        check(dead.get(victim) in CLOSED,
              "the client saw its connection closed (not a timeout): %s" % dead)
        reset = r"managesieve\(%s\)<[^>]*><[^>]*>: Info: .*Connection reset by peer" % victim
        check(wait_for(lambda: re.search(reset, px.lab.log_of(vk)), 5),
              "the backend saw %s's connection reset" % victim)
        host = where[users[1]]
        addr = BACKENDS[int(host.split("-")[1]) - 1]
        on_host = {u for u in users if where[u] == host} - {victim}
        # flush moves (and so kicks) only users whose hash now points
        # elsewhere: take the host out of the ring first.
        r = run(["doveadm", "director", "update", addr, "0", "-a", px.admin])
        check(r.returncode == 0, "doveadm director update %s 0: %s" % (addr, r.stderr))
        r = run(["doveadm", "director", "flush", addr, "-a", px.admin])
        check(r.returncode == 0, "doveadm director flush %s: %s" % (addr, r.stderr))
        time.sleep(3.5)  # director_user_kick_delay (2 s) and the kicks
        a2, dead = alive()
        check(a2 == a - on_host, "update 0 + flush %s (%s) closed exactly its %d sessions: "
              "alive %s" % (addr, host, len(on_host), sorted(a2)))
        exp.kicked += len(on_host)
        check(all(dead.get(u) in CLOSED for u in on_host),
              "their clients saw the connection closed: %s" % dead)
        run(["doveadm", "director", "update", addr, "100", "-a", px.admin])
    finally:
        p.stdin.close()
        p.wait(timeout=30)


def stopped_backend(kv, px, exp):
    """A user whose backend is stopped gets NO (TRYLATER) after the
    retries, and the pre-login memory is all given back."""
    k = len(BACKENDS)
    dead = BACKENDS[k - 1]
    user = next((u for u in ("gone%03d" % i for i in range(200))
                 if director_host(px.admin, u) == dead), None)
    if not check(user is not None, "a user on %s" % dead):
        return
    pid = int(open(os.path.join(px.lab.bdir(k), "run", "master.pid")).read())
    os.kill(pid, signal.SIGTERM)
    probe = ("import socket,sys\ntry:\n socket.create_connection((sys.argv[1],%d),1)"
             "\n print('open')\nexcept OSError:\n print('closed')" % PORT)
    check(wait_for(lambda: run(["ip", "netns", "exec", kv["backend_ns"], sys.executable,
                                "-c", probe, dead]).stdout.strip() == "closed", 15),
          "backend %s stopped" % dead)
    r = client(kv["client_ns"], "one", user)
    res = jlines(r)
    o = res[0] if len(res) == 1 else {}
    exp.logins += 1
    exp.unavailable += 1
    check(o.get("auth") == 'NO (TRYLATER) "Account is temporarily unavailable."',
          "%s on the stopped %s: %r %s" % (user, dead, o, r.stderr[-300:]))
    check(2.5 <= o.get("t", 0) <= 10, "after the retries, 1 s apart: %s s" % o.get("t"))
    check(o.get("logout") == 'OK "Logout completed."',
          "the connection still takes LOGOUT: %r" % o.get("logout"))

    def settled():
        st = px.stats("lcore.")
        n = sum(v for k, v in st.items() if k.endswith(".sieve.login_unavailable"))
        pre = sum(v for k, v in st.items() if k.endswith(".prelogin"))
        return (n, pre) if n == exp.unavailable and pre == 0 else None
    got = wait_for(settled, 5)
    check(got is not None, "sieve.login_unavailable is %d and no pre-login session is "
          "left: %s" % (exp.unavailable, {k: v for k, v in px.stats("lcore.").items()
                                          if k.endswith((".prelogin",
                                                         ".sieve.login_unavailable"))}))


if __name__ == "__main__":
    sys.exit(main())
