#!/usr/bin/env python3
"""The seed scenario (shared/spec/director.md section 2.5) through the real
processes: postmux-control and postmux-dataplane started by scripts/sandbox,
driven with postmuxctl over the admin socket.

Usage: test_seed_processes.py <path to postmuxctl>
Environment: PM_TESTDATA (tests/data); PM_CONTROL and PM_DATAPLANE (set by
       meson): their build directory is passed to scripts/sandbox as
       POSTMUX_SANDBOX_BUILD (without PM_CONTROL: <repo>/build). Skipped (77)
       when the daemons are not built.
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr).

For fixture A and fixture B, each in its own temporary sandbox with a kick
delay of 200 ms:

1. Place the 230 users on their initial hosts with USER-MOVE (one command at
   a time, each after its reply), wait the kick delay.
2. Run the guide's steps exactly as tests/seed_scenario.c does, with
   `postmuxctl update` and `postmuxctl flush`; after every flush wait the
   kick delay plus a margin (flush returns once every user is dispatched;
   the in-process replay likewise runs every move past its kick delay).
   After every step the users per backend (`postmuxctl status`) must equal
   the table of tests/unit/test_seed.c, and `postmuxctl map` must agree
   with them.
3. USER-ASSIGN of every fixture user answers its current pin (after the
   placement and at the end; for fixture B at the end also its full-ring
   target).
4. Between "flush 10.0.0.1" and "update 10.0.0.2 100", postmux-control is
   killed with SIGKILL and started again (scripts/sandbox start): HOST-LIST
   still has 10.0.0.2 and 10.0.0.3 at 0 vhosts (the state file) and the user
   counts are intact (the pins live in the data plane, which kept running);
   then the remaining steps must still match.
5. After the last step, a runtime change (10.0.0.5 to 50 vhosts, 10.0.0.4
   down), then the data plane is restarted (SIGTERM, scripts/sandbox start):
   postmux-control sends it the state again, so HOST-LIST keeps the runtime
   vhosts and states, every count is 0 (pins die with the data plane), and
   USER-ASSIGN places users as `postmuxctl ring` does for that state.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, info, skip  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANDBOX = os.path.join(REPO, "scripts", "sandbox")
KICK_DELAY_MS = 200
SETTLE = (KICK_DELAY_MS + 300) / 1000.0  # kick delay plus a margin, seconds
HOSTS = ["10.0.0.%d" % i for i in range(1, 6)]
HANDSHAKE = b"VERSION\tdirector-doveadm\t1\t0\n"

# tests/unit/test_seed.c (spec 2.5), one row per step of seed_scenario.c.
EXPECT = {
    "A": [[80, 70, 60, 10, 10], [80, 70, 60, 10, 10], [34, 70, 60, 33, 33],
          [38, 55, 60, 38, 39], [42, 58, 43, 43, 44], [43, 59, 43, 40, 45],
          [44, 60, 44, 41, 41], [44, 48, 56, 41, 41], [44, 48, 56, 41, 41]],
    "B": [[80, 70, 60, 10, 10], [80, 70, 60, 10, 10], [34, 70, 60, 33, 33],
          [38, 58, 60, 37, 37], [46, 58, 34, 46, 46], [46, 58, 34, 46, 46],
          [46, 58, 34, 46, 46], [46, 46, 46, 46, 46], [46, 46, 46, 46, 46]],
}

# seed_scenario.c: the commands of steps 1..8 (step 0 is the placement).
STEPS = [
    ("update 10.0.0.2 0; update 10.0.0.3 0",
     [["update", "10.0.0.2", "0"], ["update", "10.0.0.3", "0"]]),
    ("flush 10.0.0.1", [["flush", "10.0.0.1"]]),
    ("update 10.0.0.2 100; flush 10.0.0.2",
     [["update", "10.0.0.2", "100"], ["flush", "10.0.0.2"]]),
    ("update 10.0.0.3 100; flush 10.0.0.3",
     [["update", "10.0.0.3", "100"], ["flush", "10.0.0.3"]]),
    ("flush 10.0.0.4", [["flush", "10.0.0.4"]]),
    ("flush 10.0.0.5", [["flush", "10.0.0.5"]]),
    ("flush 10.0.0.2 (again)", [["flush", "10.0.0.2"]]),
    ("flush 10.0.0.1; flush 10.0.0.3; flush 10.0.0.4; flush 10.0.0.5",
     [["flush", "10.0.0.1"], ["flush", "10.0.0.3"], ["flush", "10.0.0.4"],
      ["flush", "10.0.0.5"]]),
]
KILL_CONTROL_AFTER = 2  # after step 2 (flush 01): 02 and 03 are at 0 vhosts


class Admin:
    """One admin connection; every command is sent after the previous
    reply was read."""

    def __init__(self, path, timeout=40):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.s.sendall(HANDSHAKE)
        line = self.line()
        if not line.startswith(b"VERSION\tdirector-doveadm\t1\t"):
            raise RuntimeError("bad handshake %r" % line)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise RuntimeError("admin socket closed; unread %r" % self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def cmd(self, *args):
        self.s.sendall(b"\t".join(a.encode() if isinstance(a, str) else a
                                  for a in args) + b"\n")
        return self.line().decode()

    def host_list(self):
        """{ip: (vhosts, users, "U"/"D")}"""
        self.s.sendall(b"HOST-LIST\n")
        hosts = {}
        while True:
            line = self.line().decode()
            if line == "":
                return hosts
            f = line.split("\t")
            hosts[f[0]] = (int(f[1]), int(f[2]), f[4])

    def close(self):
        self.s.close()


class Sandbox:
    def __init__(self, ctl, d):
        self.ctl, self.dir = ctl, d
        self.admin = os.path.join(d, "director-admin")

    def script(self, verb):
        env = dict(os.environ, POSTMUX_SANDBOX_KICK_DELAY="%d ms" % KICK_DELAY_MS)
        p = subprocess.run([SANDBOX, verb, "--dir", self.dir], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def start(self):
        rc, out, err = self.script("start")
        return check(rc == 0 and out == "admin socket: %s\n" % self.admin,
                     "sandbox start: exit %d, %r %r" % (rc, out, err))

    def pid(self, which):
        with open(os.path.join(self.dir, which + ".pid")) as fp:
            return int(fp.read())

    def postmuxctl(self, *args):
        p = subprocess.run([self.ctl, "-a", self.admin] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def counts(self):
        """Users of 10.0.0.1..5 from `postmuxctl status`, or None."""
        rc, out, err = self.postmuxctl("status")
        if not check(rc == 0, "postmuxctl status: exit %d %r" % (rc, err)):
            return None
        users = {}
        for line in out.splitlines()[1:]:
            f = line.split()
            users[f[0]] = int(f[2])
        return [users.get(h, -1) for h in HOSTS]

    def pins(self, users_file):
        """{name: ip} from `postmuxctl map -f users_file`, or None."""
        rc, out, err = self.postmuxctl("map", "-f", users_file)
        if not check(rc == 0, "postmuxctl map: exit %d %r" % (rc, err)):
            return None
        pins = {}
        for line in out.splitlines()[1:]:
            f = line.split()
            pins[f[0]] = f[2]
        return pins


def load_fixture(name):
    users = []
    with open(pmtest.testdata("seed-fixture-%s.tsv" % name)) as fp:
        for line in fp:
            if line.startswith("#") or not line.strip():
                continue
            f = line.rstrip("\n").split("\t")
            users.append(dict(name=f[0], initial=f[1], hash=int(f[2]), final=f[5]))
    return users


def check_step(sb, fx, step, title, users_file, nusers):
    want = EXPECT[fx][step]
    got = sb.counts()
    ok = check(got == want, "fixture %s step %d (%s): users %s, expected %s"
               % (fx, step, title, got, want))
    pins = sb.pins(users_file)
    if pins is not None:
        per = [sum(1 for ip in pins.values() if ip == h) for h in HOSTS]
        check(len(pins) == nusers and per == want,
              "fixture %s step %d: map has %d pins, %s per backend"
              % (fx, step, len(pins), per))
    info("fixture %s step %d %-66s %s%s" % (fx, step, title, got, "" if ok else "  MISMATCH"))
    return pins


def check_assign(sb, fx, users, pins, what, final=False):
    """USER-ASSIGN of every user answers its pin (and, with final, its
    full-ring target). A user still being moved is retried by
    postmux-control, so this also waits for every move to end."""
    a = Admin(sb.admin)
    bad = []
    for u in users:
        ip = a.cmd("USER-ASSIGN", u["name"])
        if ip != pins.get(u["name"]) or (final and ip != u["final"]):
            bad.append((u["name"], ip, pins.get(u["name"]), u["final"]))
    a.close()
    check(not bad, "fixture %s %s: %d USER-ASSIGN answers differ (name, answer, pin, "
          "target): %s" % (fx, what, len(bad), bad[:5]))


def run_step(sb, fx, cmds):
    for c in cmds:
        rc, out, err = sb.postmuxctl(*c)
        check(rc == 0 and out == "", "fixture %s: postmuxctl %s: exit %d %r %r"
              % (fx, " ".join(c), rc, out, err))
        if c[0] == "flush":
            time.sleep(SETTLE)


def alive(pid):
    """Whether pid runs: not gone and not a zombie (the daemons are children
    of the sandbox script's shell, so whoever adopted them reaps them, maybe
    late)."""
    try:
        with open("/proc/%d/stat" % pid) as fp:
            return fp.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_gone(pid, seconds):
    end = time.time() + seconds
    while alive(pid):
        if time.time() > end:
            return False
        time.sleep(0.02)
    return True


def restart_control(sb, fx, step):
    pid = sb.pid("control")
    dp = sb.pid("dataplane")
    os.kill(pid, signal.SIGKILL)
    if not check(wait_gone(pid, 10), "fixture %s: postmux-control outlived SIGKILL" % fx):
        return False
    t = time.time()
    if not sb.start():
        return False
    check(sb.pid("dataplane") == dp, "fixture %s: the data plane was restarted too" % fx)
    check(sb.pid("control") != pid, "fixture %s: postmux-control has the old pid" % fx)
    a = Admin(sb.admin)
    hl = a.host_list()
    a.close()
    vh = [hl.get(h, (None,))[0] for h in HOSTS]
    check(vh == [100, 0, 0, 100, 100],
          "fixture %s: after kill -9 of postmux-control, vhosts %s" % (fx, vh))
    users = [hl.get(h, (0, None))[1] for h in HOSTS]
    check(users == EXPECT[fx][step],
          "fixture %s: after kill -9 of postmux-control, users %s, expected %s"
          % (fx, users, EXPECT[fx][step]))
    info("fixture %s: postmux-control killed (-9) and restarted in %.2f s: vhosts %s, "
         "users %s" % (fx, time.time() - t, vh, users))
    return True


def restart_dataplane(sb, fx, users):
    # A runtime state that differs from the configuration.
    for c in (["update", "10.0.0.5", "50"], ["down", "10.0.0.4"]):
        rc, out, err = sb.postmuxctl(*c)
        check(rc == 0, "fixture %s: postmuxctl %s: exit %d %r" % (fx, " ".join(c), rc, err))
    dp = sb.pid("dataplane")
    os.kill(dp, signal.SIGTERM)
    if not check(wait_gone(dp, 10), "fixture %s: the data plane outlived SIGTERM by 10 s"
                 % fx):
        return
    t = time.time()
    if not sb.start():
        return
    check(sb.pid("dataplane") != dp, "fixture %s: the data plane has the old pid" % fx)
    a = Admin(sb.admin)
    hl = a.host_list()
    want = {"10.0.0.1": (100, 0, "U"), "10.0.0.2": (100, 0, "U"),
            "10.0.0.3": (100, 0, "U"), "10.0.0.4": (100, 0, "D"),
            "10.0.0.5": (50, 0, "U")}
    check(hl == want, "fixture %s: after a data plane restart HOST-LIST %s, expected %s"
          % (fx, hl, want))
    # The data plane has the runtime state: it places users as the ring does.
    sample = users[:40]
    names = [u["name"].encode() for u in sample]
    pl = pmtest.placements(sb.ctl, "10.0.0.1-10.0.0.3 10.0.0.4:down 10.0.0.5=50", names)
    if pl is not None:
        bad = []
        for u, (_, ip) in zip(sample, pl):
            got = a.cmd("USER-ASSIGN", u["name"])
            if got != ip:
                bad.append((u["name"], got, ip))
        check(not bad, "fixture %s: after a data plane restart, USER-ASSIGN differs from "
              "postmuxctl ring: %s" % (fx, bad[:5]))
    a.close()
    info("fixture %s: data plane restarted in %.2f s; HOST-LIST %s" % (fx, time.time() - t, hl))


def run_fixture(ctl, fx, tmp):
    users = load_fixture(fx)
    if not check(len(users) == 230, "fixture %s has %d users" % (fx, len(users))):
        return
    users_file = os.path.join(tmp, "users-%s" % fx)
    with open(users_file, "w") as fp:
        fp.write("".join(u["name"] + "\n" for u in users))
    sb = Sandbox(ctl, os.path.join(tmp, "sandbox-%s" % fx))
    t0 = time.time()
    try:
        if not sb.start():
            return
        # Step 0: the placement, one USER-MOVE at a time.
        a = Admin(sb.admin)
        bad = [(u["name"], r) for u in users
               for r in [a.cmd("USER-MOVE", u["name"], u["initial"])] if r != "OK"]
        a.close()
        check(not bad, "fixture %s: USER-MOVE replies %s" % (fx, bad[:5]))
        time.sleep(SETTLE)
        pins = check_step(sb, fx, 0, "start: users placed with USER-MOVE", users_file,
                          len(users))
        if pins is not None:
            check_assign(sb, fx, users, pins, "after the placement")
        for i, (title, cmds) in enumerate(STEPS, 1):
            run_step(sb, fx, cmds)
            pins = check_step(sb, fx, i, title, users_file, len(users))
            if i == KILL_CONTROL_AFTER and not restart_control(sb, fx, i):
                return
        if pins is not None:
            check_assign(sb, fx, users, pins, "at the end", final=(fx == "B"))
        restart_dataplane(sb, fx, users)
    finally:
        rc, out, err = sb.script("stop")
        check(rc == 0, "sandbox stop: exit %d %r" % (rc, err))
        for f in ("director-admin", "control"):
            check(not os.path.exists(os.path.join(sb.dir, f)),
                  "sandbox stop left %s" % f)
        rc, out, err = sb.script("status")
        check(rc != 0 and "not running" in out, "sandbox status after stop: %r" % out)
        # In the sanitizer build the daemons' reports land in their logs.
        for log in ("control.log", "dataplane.log"):
            path = os.path.join(sb.dir, log)
            text = open(path, errors="replace").read() if os.path.exists(path) else ""
            check(not any(m in text for m in SANITIZER_MARKS),
                  "fixture %s: sanitizer report in %s:\n%s" % (fx, log, text[-3000:]))
        info("fixture %s: %.1f s" % (fx, time.time() - t0))


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def main():
    ctl = pmtest.ctl_from_argv()
    # The build directory: PM_CONTROL's (meson: this build, e.g. build-asan),
    # else <repo>/build. scripts/sandbox runs its binaries.
    build = os.path.join(REPO, "build")
    if os.environ.get("PM_CONTROL"):
        build = os.path.dirname(os.path.dirname(os.path.abspath(os.environ["PM_CONTROL"])))
    need = {
        "PM_CONTROL": os.path.join(build, "control", "postmux-control"),
        "PM_DATAPLANE": os.path.join(build, "dataplane", "daemon", "postmux-dataplane"),
    }
    for env, path in need.items():
        if not os.access(path, os.X_OK):
            skip("%s is not built: run scripts/setup" % path)
        given = os.environ.get(env)
        if given and os.path.realpath(given) != os.path.realpath(path):
            skip("%s is %s, but scripts/sandbox would run %s" % (env, given, path))
    if not os.access(SANDBOX, os.X_OK):
        skip("%s is missing" % SANDBOX)
    os.environ["POSTMUX_SANDBOX_BUILD"] = build
    t = time.time()
    with tempfile.TemporaryDirectory(prefix="pm-seed-") as tmp:
        for fx in ("A", "B"):
            run_fixture(ctl, fx, tmp)
    info("%s in %.1f s" % (pmtest.summary(), time.time() - t))
    sys.exit(pmtest.status())


if __name__ == "__main__":
    main()
