#!/usr/bin/env python3
"""The real-traffic demo: Dovecot's "Rebalancing Backends" guide on live sessions.

Usage: demo.py [--protocols imap,pop3] [--fixture FILE] [--prefix P]
               [--workers N] [--kick-delay MS] [--step-timeout S]
               [--build DIR | --postmuxctl F --dataplane F --control F]
scripts/demo runs it after scripts/setup; meson runs it as the test 'demo'.
Needs root. Exit status: 0 when everything held (below), 1 when something
did not, 2 bad usage, 77 it cannot run here (not root, no Dovecot, no
build; the reason on stderr), 128 + the signal when interrupted (SIGINT,
SIGTERM, SIGHUP). It cleans up in every case.

1. A lab of its own (scripts/netns-lab up --prefix P, default "demo"):
   five Dovecot backends at 198.51.100.1-5 (backend_lab.py), postmux-control
   and postmux-dataplane (2 worker lcores on a machine with 2 CPUs or more,
   else 1; net_af_packet ports; DPDK --file-prefix pm<P>) with listeners on
   the VIP 192.0.2.10: IMAP 143 and POP3 110, and a kick delay of 200 ms.
2. How a client learns its backend is checked first, directly on each
   backend (no proxy): IMAP's ID reply, POP3's message naming the backend
   (delivered over LMTP to every POP3 user on every backend).
3. The fixture's users (seed-fixture-B.tsv: 230) are placed as the guide
   starts, 80/70/60/10/10, with `postmuxctl move <user> <backend>`
   (10.0.0.K -> 198.51.100.K); then one client per user (every third over
   POP3 when both protocols run) logs in through the VIP and stays
   connected (demo_clients.py in the client namespace). A client whose
   session ends (a kick) logs in again at once and says where it landed.
4. The guide's steps, with postmuxctl: update .2 0; update .3 0; flush .1;
   update .2 100; flush .2; update .3 100; flush .3; flush .4; flush .5;
   flush .2 again; flush all. After each, once the moves are done and the
   kicked clients are back: `postmuxctl status` with the live sessions per
   backend as the clients report them.
5. What must hold (exit status 0): after every step every client is
   connected to the backend the director pins it to (`postmuxctl map`),
   and the backends' own session lists (`doveadm who`) say the same; the
   sessions a step closed are exactly those of the users it moved; at the
   end every session answers a NOOP, and the spread is the pure hash spread
   of the users (`postmuxctl ring`): clients, pins and ring agree; and the
   data plane counted as many logins, splices and kicks as the clients saw.
The last line says whether the final spread is the pure hash spread.
Logs: a directory /tmp/postmux-demo.XXXXXX, printed at the start: the
transcript (demo.txt), postmux.conf, control.log, dataplane.log,
clients.log (every login and close) and backends/bK/dovecot.log.
"""

import argparse
import errno
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from backend_lab import BackendLab, BackendError, DOVECOT  # noqa: E402

LAB = os.path.join(REPO, "scripts", "netns-lab")
CLIENTS = os.path.join(HERE, "demo_clients.py")
DOVEADM = "/usr/bin/doveadm"
VIP = "192.0.2.10"
PORTS = {"imap": 143, "pop3": 110}
NET = "198.51.100."
BACKENDS = [NET + "%d" % k for k in range(1, 6)]
SPEC = BACKENDS[0] + "-" + BACKENDS[-1]
SKIP, FAIL = 77, 1


class Skip(Exception):
    pass


class Failed(Exception):
    pass


class Interrupted(BaseException):
    pass


def b(k):
    return NET + str(k)


# The guide's steps (shared/spec/director.md 2.5), with the lab's addresses.
STEPS = [
    ("update .2 0; update .3 0", [["update", b(2), "0"], ["update", b(3), "0"]]),
    ("flush .1", [["flush", b(1)]]),
    ("update .2 100; flush .2", [["update", b(2), "100"], ["flush", b(2)]]),
    ("update .3 100; flush .3", [["update", b(3), "100"], ["flush", b(3)]]),
    ("flush .4", [["flush", b(4)]]),
    ("flush .5", [["flush", b(5)]]),
    ("flush .2 (again)", [["flush", b(2)]]),
    ("flush all", [["flush", "all"]]),
]


class Out:
    """Lines to stdout and to the transcript. A stdout that went away (a
    pager quit early) must not stop the demo before it has cleaned up."""

    def __init__(self):
        self.fp = None
        self.tty = True

    def __call__(self, text=""):
        if self.tty:
            try:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
            except OSError:
                self.tty = False
        if self.fp is not None:
            self.fp.write(text + "\n")
            self.fp.flush()


say = Out()


def run(args, timeout=60, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, **kw)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as fp:
            return fp.read().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


class Lock:
    """One demo per lab prefix. The lock file also lists the processes this
    demo starts in the root namespace (postmux-control, postmux-dataplane),
    so that a run killed before it could clean up has them stopped by the
    next one; what ran in the lab's namespaces goes with netns-lab down."""

    def __init__(self, prefix):
        d = "/run/lock" if os.path.isdir("/run/lock") else "/tmp"
        self.path = os.path.join(d, "postmux-demo-%s.lock" % prefix)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise Failed("another demo runs with the lab prefix %r (lock %s)"
                             % (prefix, self.path))
            raise
        left = os.pread(self.fd, 65536, 0).decode(errors="replace").split("\n")
        for line in left:
            f = line.split(" ", 1)
            if len(f) == 2 and f[0].isdigit():
                self._stop_leftover(int(f[0]), f[1])
        os.ftruncate(self.fd, 0)

    @staticmethod
    def _stop_leftover(pid, exe):
        try:
            if os.readlink("/proc/%d/exe" % pid) != exe:
                return
        except OSError:
            return
        say("stopping pid %d (%s), left by an earlier demo" % (pid, os.path.basename(exe)))
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)

    def record(self, pid, exe):
        os.lseek(self.fd, 0, os.SEEK_END)
        os.write(self.fd, ("%d %s\n" % (pid, exe)).encode())
        os.fsync(self.fd)

    def release(self):
        os.ftruncate(self.fd, 0)
        os.close(self.fd)


class Clients:
    """demo_clients.py run, in the client namespace: one line per command."""

    def __init__(self, ns, users_file, log, logins=40):
        with open(log + ".err", "w") as err:
            self.p = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, CLIENTS, "run", "--users",
                 users_file, "--imap", "%s:%d" % (VIP, PORTS["imap"]),
                 "--pop3", "%s:%d" % (VIP, PORTS["pop3"]), "--log", log,
                 "--logins", str(logins)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                start_new_session=True)
        self.buf = b""

    def ask(self, cmd, timeout=30):
        self.p.stdin.write(cmd.encode() + b"\n")
        self.p.stdin.flush()
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed("the client driver did not answer %r in %d s" % (cmd, timeout))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise Failed("the client driver exited (status %s)" % self.p.poll())
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def state(self):
        return json.loads(self.ask("state"))["users"]

    def probe(self):
        return json.loads(self.ask("probe", timeout=60))

    def stop(self):
        if self.p.poll() is None:
            try:
                self.ask("quit", timeout=10)
            except (Failed, OSError):
                pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.terminate()
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Demo:
    def __init__(self, a, logdir, lock):
        self.a, self.logdir, self.lock = a, logdir, lock
        self.protocols = a.protocols
        self.users, self.initial = load_fixture(a.fixture)
        self.proto = {}
        for i, u in enumerate(self.users):
            if len(self.protocols) == 1:
                self.proto[u] = self.protocols[0]
            else:
                self.proto[u] = "pop3" if i % 3 == 2 else "imap"
        self.names_file = os.path.join(logdir, "users.txt")
        with open(self.names_file, "w") as fp:
            fp.write("".join(u + "\n" for u in self.users))
        self.kv = None
        self.backends = None
        self.procs = {}
        self.clients = None
        self.admin = os.path.join(logdir, "director-admin")
        self.problems = []	# every check that did not hold
        self.pins_now = {}
        self.state_now = {}

    # ---- helpers ----
    def ctl(self, *args, check=True):
        r = run([self.a.postmuxctl, "-a", self.admin] + list(args))
        if check and r.returncode != 0:
            if "dataplane" in self.procs and not self.dp_alive():
                raise Failed("postmux-dataplane exited (status %s):\n%s"
                             % (self.procs["dataplane"].returncode,
                                self.log_tail("dataplane.log")))
            raise Failed("postmuxctl %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                         r.stderr.strip()))
        return r.stdout

    def stats(self, prefix):
        out = {}
        for line in self.ctl("stats", prefix, check=False).splitlines():
            f = line.split()
            if len(f) == 2 and f[1].isdigit():
                out[f[0]] = int(f[1])
        return out

    def pins(self):
        """user -> pinned backend, from postmuxctl map -f."""
        out = {}
        for line in self.ctl("map", "-f", self.names_file).splitlines()[1:]:
            f = line.split()
            if len(f) >= 3 and f[0] != "<unknown>":
                out[f[0]] = f[2]
        return out

    def backend_sessions(self):
        """{(user, proto, backend address)} from each backend's doveadm who."""
        out = set()
        for k, addr in enumerate(BACKENDS, 1):
            conf = os.path.join(self.backends.bdir(k), "dovecot.conf")
            r = run([DOVEADM, "-c", conf, "who", "-1"])
            for line in r.stdout.splitlines()[1:]:
                f = line.split()
                if len(f) >= 2:
                    out.add((f[0], f[1], addr))
        return out

    def dp_alive(self):
        p = self.procs.get("dataplane")
        return p is not None and p.poll() is None

    def log_tail(self, name, n=20):
        try:
            with open(os.path.join(self.logdir, name), errors="replace") as fp:
                return "".join(fp.readlines()[-n:])
        except OSError:
            return ""

    # ---- setup ----
    def setup(self):
        t0 = time.monotonic()
        a = self.a
        run([LAB, "down", "--prefix", a.prefix])	# whatever a killed run left
        r = run([LAB, "up", "--prefix", a.prefix, "--backends", "5"])
        if r.returncode != 0:
            raise Failed("scripts/netns-lab up --prefix %s: %s" % (a.prefix, r.stderr.strip()))
        self.kv = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        self.backends = BackendLab(self.kv["backend_ns"], BACKENDS,
                                   directory=os.path.join(self.logdir, "backends"))
        try:
            self.backends.start()
        except BackendError as e:
            raise Failed("the Dovecot backends did not start: %s\n%s" % (e, e.log[-2000:]))
        say()
        say("setup: lab %r (scripts/netns-lab), Dovecot backends at %s (%.1f s)"
            % (a.prefix, SPEC, time.monotonic() - t0))
        self.check_detection()
        t0 = time.monotonic()
        self.start_postmux()
        say("  postmux-control, postmux-dataplane with %d worker lcore%s, %s on the VIP %s,"
            % (a.workers, "s" if a.workers > 1 else "",
               " and ".join("%s port %d" % (p.upper(), PORTS[p]) for p in self.protocols), VIP))
        say("  director_user_kick_delay %d ms (%.1f s)" % (a.kick_delay, time.monotonic() - t0))

    def check_detection(self):
        """Deliver the POP3 users' messages, then check, on each backend
        directly, that a client learns that backend's name."""
        t0 = time.monotonic()
        bns = self.kv["backend_ns"]
        pop3_users = [u for u in self.users if self.proto[u] == "pop3"]
        if pop3_users:
            to = []
            for k, addr in enumerate(BACKENDS, 1):
                to += ["--backend", addr, "backend-%d" % k]
            r = run(["ip", "netns", "exec", bns, sys.executable, CLIENTS, "deliver"] + to +
                    pop3_users, timeout=120)
            if r.returncode != 0:
                raise Failed("LMTP delivery: %s %s" % (r.stdout, r.stderr))
        sessions = []
        for k, addr in enumerate(BACKENDS, 1):
            for p in self.protocols:
                u = next(x for x in self.users if self.proto[x] == p)
                sessions.append("%s:%s:%s" % (addr, p, u))
        r = run(["ip", "netns", "exec", bns, sys.executable, CLIENTS, "check"] + sessions)
        bad = []
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) < 4 or f[3] != "backend-%d" % (BACKENDS.index(f[0]) + 1):
                bad.append(line)
        if r.returncode != 0 or bad or len(r.stdout.splitlines()) != len(sessions):
            raise Failed("a client cannot tell which backend it is on: %s %s"
                         % (bad, r.stderr.strip()))
        how = {"imap": "IMAP by the ID reply", "pop3": "POP3 by a message naming the backend"}
        say("  checked on each backend directly: a client learns where it is, %s (%.1f s)"
            % (" and ".join(how[p] for p in self.protocols), time.monotonic() - t0))

    def start_postmux(self):
        a, kv = self.a, self.kv
        cpus = sorted(os.sched_getaffinity(0))
        lcores = ",".join("%d@%d" % (i, cpus[i % len(cpus)]) for i in range(1 + a.workers))
        qp = ",qpairs=%d" % a.workers if a.workers > 1 else ""
        conf = os.path.join(self.logdir, "postmux.conf")
        lines = [
            "# written by tests/integration/demo.py",
            "director_mail_servers = %s" % SPEC,
            "director_user_kick_delay = %d ms" % a.kick_delay,
            "postmux_admin_socket = %s" % self.admin,
            "postmux_control_socket = %s" % os.path.join(self.logdir, "control"),
            "postmux_state_file = %s" % os.path.join(self.logdir, "state"),
            "postmux_dpdk_args = --no-huge -m 512 --no-pci --no-shconf --file-prefix pm%s "
            "--lcores %s" % (a.prefix, lcores),
            "postmux_port = client net_af_packet0,iface=%s%s 192.0.2.1/24"
            % (kv["client_dp_if"], qp),
            "postmux_port = backend net_af_packet1,iface=%s%s %s/24"
            % (kv["backend_dp_if"], qp, kv["backend_gw"]),
            "postmux_vip = client %s" % VIP,
        ]
        lines += ["postmux_listener = %s %d %s" % (VIP, PORTS[p], p) for p in self.protocols]
        lines += [
            "postmux_lcores = %d" % a.workers,
            "postmux_sessions = 4096",
            "postmux_prelogin_sessions = 256",
        ]
        with open(conf, "w") as fp:
            fp.write("\n".join(lines) + "\n")
        for name, binary in (("control", a.control), ("dataplane", a.dataplane)):
            with open(os.path.join(self.logdir, name + ".log"), "w") as lf:
                p = subprocess.Popen([binary, "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=lf, stderr=lf, start_new_session=True)
            self.procs[name] = p
            self.lock.record(p.pid, os.path.realpath(binary))
            if name == "control":
                deadline = time.monotonic() + 10
                while not os.path.exists(self.admin) and p.poll() is None and \
                        time.monotonic() < deadline:
                    time.sleep(0.05)
        # Ready: the data plane resolved every backend on every worker.
        deadline = time.monotonic() + 40
        while True:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    self.startup_failed(name, p.returncode)
            st = self.stats("lcore.")
            if sum(v for k, v in st.items() if k.endswith(".backends")) >= 5 * a.workers:
                break
            if time.monotonic() > deadline:
                raise Failed("the data plane did not resolve the backends in 40 s:\n"
                             + self.log_tail("dataplane.log"))
            time.sleep(0.2)

    def startup_failed(self, name, rc):
        tail = self.log_tail(name + ".log")
        raise Failed("postmux-%s exited with %s at start:\n%s" % (name, rc, tail))

    # ---- the scenario ----
    def place(self):
        for u in self.users:
            self.ctl("move", u, self.initial[u])
        self.wait_moves(10)

    def wait_moves(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats("director.")
            if st.get("director.moving", 1) == 0 and st.get("director.jobs", 1) == 0:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def off(self, pins, state):
        """Why clients are not where the director pins them, by user."""
        off = {}
        for u in self.users:
            proto, backend, connected = state[u][:3]
            if not connected:
                off[u] = "not connected (%s)" % (backend or "never logged in")
            elif u not in pins:
                off[u] = "on %s, not pinned" % backend
            elif backend != "backend-%d" % (BACKENDS.index(pins[u]) + 1):
                off[u] = "on %s, pinned to %s" % (backend, pins[u])
        return off

    def settle(self, timeout):
        """Wait until the moves are done, every client is connected on its
        pinned backend and the backends' session lists say the same.
        Returns (pins, state, problems)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.dp_alive():
                raise Failed("postmux-dataplane exited:\n" + self.log_tail("dataplane.log"))
            moves_done = self.wait_moves(0)
            pins = self.pins()
            state = self.clients.state()
            problems = ["%s %s" % kv for kv in sorted(self.off(pins, state).items())]
            if moves_done and not problems:
                want = {(u, state[u][0], pins[u]) for u in self.users}
                seen = self.backend_sessions()
                problems = ["backends have no session %s/%s on %s" % x
                            for x in sorted(want - seen)]
                problems += ["backends have a session %s/%s on %s that no client has" % x
                             for x in sorted(seen - want)]
                if not problems:
                    return pins, state, []
            elif not moves_done:
                problems.insert(0, "moves still in progress")
            if time.monotonic() > deadline:
                return pins, state, problems
            time.sleep(0.25)

    def table(self, state):
        """postmuxctl status, with the clients' own count per backend."""
        conn = {addr: {"imap": 0, "pop3": 0} for addr in BACKENDS}
        for u in self.users:
            proto, backend, connected = state[u][:3]
            if connected and backend.startswith("backend-"):
                conn[BACKENDS[int(backend[8:]) - 1]][proto] += 1
        lines = self.ctl("status").rstrip("\n").split("\n")
        width = max(len(x) for x in lines)
        both = len(self.protocols) > 1
        say("  " + lines[0].ljust(width) + "  clients" + ("  imap/pop3" if both else ""))
        for line in lines[1:]:
            addr = line.split()[0] if line.split() else ""
            c = conn.get(addr)
            extra = ""
            if c is not None:
                extra = "  %7d" % (c["imap"] + c["pop3"])
                if both:
                    extra += "  %4d/%d" % (c["imap"], c["pop3"])
            say("  " + line.ljust(width) + extra)

    def step(self, n, title, cmds):
        t0 = time.monotonic()
        before_pins, before = self.pins_now, self.state_now
        say()
        say("step %d: %s" % (n, title))
        for c in cmds:
            say("  $ postmuxctl %s" % " ".join(c))
            self.ctl(*c)
        pins, state, problems = self.settle(self.a.step_timeout)
        self.table(state)
        moved = {u for u in self.users if pins.get(u) != before_pins.get(u)}
        kicked = {u for u in self.users if state[u][4] > before[u][4]}
        relogins = sum(state[u][3] - before[u][3] for u in self.users)
        failed = sum(state[u][5] - before[u][5] for u in self.users)
        note = "  moved %d users; %d sessions closed (kicked), %d logins again" % (
            len(moved), len(kicked), relogins)
        if failed:
            note += "; %d login attempts failed and were retried (clients.log)" % failed
        say(note + " (%.1f s)" % (time.monotonic() - t0))
        self.report(title, problems, self.a.step_timeout)
        if problems:
            raise Failed("step %d did not settle in %d s" % (n, self.a.step_timeout))
        if kicked != moved:
            self.problem(title, "the sessions closed are not those of the moved users: "
                         "moved, not kicked: %s; kicked, not moved: %s"
                         % (sorted(moved - kicked)[:8], sorted(kicked - moved)[:8]))
        self.pins_now, self.state_now = pins, state

    def report(self, title, problems, timeout):
        if problems:
            self.problem(title, "not settled after %d s: %s%s"
                         % (timeout, "; ".join(problems[:8]),
                            "; ..." if len(problems) > 8 else ""))
        else:
            say("  every client is where the director pins it (postmuxctl map); "
                "the backends' doveadm who agrees")

    def problem(self, title, text):
        self.problems.append("%s: %s" % (title, text))
        say("  NOT OK: " + text)

    def scenario(self):
        t0 = time.monotonic()
        self.place()
        users_file = os.path.join(self.logdir, "clients.users")
        with open(users_file, "w") as fp:
            fp.write("".join("%s\t%s\n" % (u, self.proto[u]) for u in self.users))
        self.clients = Clients(self.kv["client_ns"], users_file,
                               os.path.join(self.logdir, "clients.log"))
        timeout = max(60, self.a.step_timeout)
        pins, state, problems = self.settle(timeout)
        n = {p: sum(1 for u in self.users if self.proto[u] == p) for p in self.protocols}
        say()
        say("start: %d users placed with `postmuxctl move <user> <backend>` as the guide starts,"
            % len(self.users))
        say("  then %s clients logged in through the VIP and stay connected (%.1f s)"
            % (" and ".join("%d %s" % (n[p], p.upper()) for p in self.protocols),
               time.monotonic() - t0))
        self.table(state)
        self.report("start", problems, timeout)
        if problems:
            raise Failed("the clients did not all log in where the director says")
        self.pins_now, self.state_now = pins, state
        for n, (title, cmds) in enumerate(STEPS, 1):
            self.step(n, title, cmds)

    def counters(self, state):
        """The data plane's own count (lcore.N.<proto>.login_ok, .splices,
        .kicked, published every 100 ms) against the clients': every login
        the clients made went through it, and every close they saw was its
        kick."""
        want = {p: (sum(state[u][3] for u in self.users if state[u][0] == p),
                    sum(state[u][4] for u in self.users if state[u][0] == p))
                for p in self.protocols}
        deadline = time.monotonic() + 3
        while True:
            st = self.stats("lcore.")
            got = {p: tuple(sum(v for k, v in st.items() if k.endswith(".%s.%s" % (p, c)))
                            for c in ("login_ok", "splices", "kicked"))
                   for p in self.protocols}
            if all(got[p] == (want[p][0], want[p][0], want[p][1]) for p in self.protocols) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        say("the data plane counted %s" % "; ".join(
            "%s %d logins, %d splices, %d kicks" % ((p.upper(),) + got[p])
            for p in self.protocols))
        for p in self.protocols:
            if got[p] != (want[p][0], want[p][0], want[p][1]):
                self.problem("end", "the data plane's %s counters (logins, splices, kicks) "
                             "are %s; the clients logged in %d times and saw %d kicks"
                             % (p.upper(), got[p], want[p][0], want[p][1]))

    def final(self):
        """The verdict line, after a NOOP through every session."""
        pr = self.clients.probe()
        bad = {u: r for u, r in pr["probe"].items() if r != "ok"}
        if bad:
            self.problem("end", "%d sessions did not answer a NOOP: %s"
                         % (len(bad), sorted(bad.items())[:8]))
        else:
            say()
            say("every one of the %d sessions answers a NOOP through the splice" % len(pr["probe"]))
        self.counters(pr["users"])
        r = run([self.a.postmuxctl, "ring", "--backends", SPEC],
                input="".join(u + "\n" for u in self.users))
        if r.returncode != 0:
            raise Failed("postmuxctl ring: exit %d: %s" % (r.returncode, r.stderr.strip()))
        hashed = {}
        for line in r.stdout.splitlines():
            f = line.split("\t")
            if len(f) == 3:
                hashed[f[0]] = f[2]
        pins = self.pins()
        state = pr["users"]
        spread = "/".join(str(sum(1 for u in self.users if hashed.get(u) == addr))
                          for addr in BACKENDS)
        name = {addr: "backend-%d" % k for k, addr in enumerate(BACKENDS, 1)}
        pin_off = [u for u in self.users if pins.get(u) != hashed.get(u)]
        client_off = [u for u in self.users
                      if not state[u][2] or state[u][1] != name.get(hashed.get(u))]
        if len(hashed) == len(self.users) and not pin_off and not client_off:
            return True, ("final spread: the pure hash spread of the %d users over %s (%s): "
                          "every client is where `postmuxctl ring` hashes it, and so are "
                          "the director's pins" % (len(self.users), SPEC, spread))
        return False, ("final spread: NOT the pure hash spread of the %d users over %s (%s): "
                       "%d clients and %d pins are elsewhere (first: %s)"
                       % (len(self.users), SPEC, spread, len(client_off), len(pin_off),
                          (client_off + pin_off)[:5]))

    # ---- cleanup ----
    def cleanup(self):
        """Everything this demo started, in every case; returns what went
        wrong while stopping (the data plane must exit 0 on SIGTERM)."""
        issues = []
        if self.clients is not None:
            self.clients.stop()
        for name in ("dataplane", "control"):
            p = self.procs.get(name)
            if p is None:
                continue
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    rc = p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    rc = p.wait()
                    issues.append("postmux-%s ignored SIGTERM for 15 s" % name)
                if rc != 0 and name == "dataplane":
                    issues.append("postmux-dataplane exited with %s on SIGTERM" % rc)
        if self.backends is not None:
            self.backends.stop()
            # Keep the logs and configs, not the mail and the runtime files.
            for k in range(1, len(BACKENDS) + 1):
                for sub in ("mail", "run", "state"):
                    shutil.rmtree(os.path.join(self.backends.bdir(k), sub), ignore_errors=True)
        r = run([LAB, "down", "--prefix", self.a.prefix])
        if r.returncode != 0:
            issues.append("netns-lab down: %s" % r.stderr.strip())
        for name in ("director-admin", "control"):
            try:
                os.unlink(os.path.join(self.logdir, name))
            except OSError:
                pass
        return issues


def load_fixture(path):
    users, initial = [], {}
    with open(path) as fp:
        for line in fp:
            if line.startswith("#") or not line.strip():
                continue
            f = line.split("\t")
            host = f[1].strip()
            if not host.startswith("10.0.0."):
                raise Failed("%s: initial host %r is not 10.0.0.K" % (path, host))
            users.append(f[0])
            initial[f[0]] = NET + host[len("10.0.0."):]
    return users, initial


def parse_args():
    ap = argparse.ArgumentParser(
        description='Dovecot\'s "Rebalancing Backends" guide on live IMAP/POP3 sessions '
                    'through postmux')
    ap.add_argument("--protocols", default="imap,pop3",
                    help="the clients' protocols: imap, pop3 or imap,pop3 (every third "
                         "user over POP3); default imap,pop3")
    ap.add_argument("--fixture", default=os.path.join(REPO, "tests", "data",
                                                      "seed-fixture-B.tsv"))
    ap.add_argument("--prefix", default="demo", help="the netns lab's prefix (default demo)")
    ap.add_argument("--workers", type=int, default=0,
                    help="worker lcores (default 2 with 2 CPUs or more, else 1)")
    ap.add_argument("--kick-delay", type=int, default=200, help="ms (default 200)")
    ap.add_argument("--step-timeout", type=int, default=30,
                    help="seconds a step may take to settle (default 30)")
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--postmuxctl")
    ap.add_argument("--dataplane")
    ap.add_argument("--control")
    a = ap.parse_args()
    a.protocols = [p for p in a.protocols.split(",") if p]
    if not a.protocols or any(p not in PORTS for p in a.protocols) or \
            len(set(a.protocols)) != len(a.protocols):
        ap.error("--protocols: imap, pop3 or imap,pop3")
    a.protocols = [p for p in PORTS if p in a.protocols]
    if a.workers == 0:
        a.workers = 2 if len(os.sched_getaffinity(0)) >= 2 else 1
    a.postmuxctl = a.postmuxctl or os.path.join(a.build, "control", "postmuxctl")
    a.control = a.control or os.path.join(a.build, "control", "postmux-control")
    a.dataplane = a.dataplane or os.path.join(a.build, "dataplane", "daemon",
                                              "postmux-dataplane")
    return a


def preflight(a):
    if os.geteuid() != 0:
        raise Skip("needs root (network namespaces, veth, af_packet)")
    for f, what in ((DOVECOT, "Dovecot (dovecot-imapd, dovecot-pop3d, dovecot-lmtpd)"),
                    (DOVEADM, "doveadm (dovecot-core)")):
        if not os.access(f, os.X_OK):
            raise Skip("no %s: %s is missing" % (what, f))
    for f in (a.postmuxctl, a.control, a.dataplane):
        if not os.access(f, os.X_OK):
            raise Skip("%s is missing (build first: scripts/setup)" % f)
    for tool in ("ip", "ethtool"):
        if shutil.which(tool) is None:
            raise Skip("%s is missing (scripts/setup installs it)" % tool)


def interrupted(signum, frame):
    raise Interrupted(signum)


def main():
    a = parse_args()
    try:
        preflight(a)
    except Skip as e:
        sys.stderr.write("SKIP: %s\n" % e)
        return SKIP
    t0 = time.monotonic()
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, interrupted)
    demo = lock = None
    verdict, status = None, 0
    try:
        lock = Lock(a.prefix)
        logdir = tempfile.mkdtemp(prefix="postmux-demo.", dir="/tmp")
        os.chmod(logdir, 0o755)
        say.fp = open(os.path.join(logdir, "demo.txt"), "w")
        demo = Demo(a, logdir, lock)
        n = {p: sum(1 for u in demo.users if demo.proto[u] == p) for p in demo.protocols}
        say('postmux demo: Dovecot\'s "Rebalancing Backends" guide on live sessions')
        say("  %d users of %s (%s), 10.0.0.K -> %sK"
            % (len(demo.users), os.path.basename(a.fixture),
               ", ".join("%d %s" % (n[p], p.upper()) for p in demo.protocols), NET))
        say("  logs: %s" % logdir)
        demo.setup()
        demo.scenario()
        ok, verdict = demo.final()
        if not ok:
            demo.problems.append("the final spread is not the pure hash spread")
    except Failed as e:
        say()
        say("FAILED: %s" % e)
        status = FAIL
    except (KeyboardInterrupt, Interrupted) as e:
        signum = e.args[0] if isinstance(e, Interrupted) else signal.SIGINT
        say()
        say("interrupted (%s); cleaning up" % signal.Signals(signum).name)
        status = 128 + signum
    except Exception:
        say()
        say("FAILED: the demo itself broke:\n%s" % traceback.format_exc().rstrip())
        status = FAIL
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        if demo is not None:
            issues = demo.cleanup()
            for i in issues:
                say("NOT OK: cleanup: %s" % i)
            demo.problems += issues
            if demo.problems and status == 0:
                status = FAIL
        if lock is not None:
            lock.release()
    if demo is not None:
        say()
        if demo.problems:
            say("what did not hold:")
            for p in demo.problems:
                say("  - " + p)
        say("done in %.0f s, lab and processes stopped; logs: %s"
            % (time.monotonic() - t0, demo.logdir))
        say(verdict or "final spread: not reached (the demo stopped early)")
    return status


if __name__ == "__main__":
    sys.exit(main())
