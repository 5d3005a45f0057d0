#!/usr/bin/env python3
"""`postmuxctl stats`: every data-plane counter by name, from the data plane
through the control channel (COUNTERS) and postmux-control's admin socket
(POSTMUX-COUNTERS), with the real processes.

Usage: test_stats.py <path to postmuxctl>
Environment: PM_CONTROL and PM_DATAPLANE (set by meson): their build
       directory is passed to scripts/sandbox as POSTMUX_SANDBOX_BUILD
       (without PM_CONTROL: <repo>/build). Skipped (77) when the daemons are
       not built.
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr).

Without network ports (scripts/sandbox in a temporary directory, kick delay
200 ms):

1. `postmuxctl stats` lists the 8 director.* and the 8 ctl.* counters in
   that order, as "name  value" lines with the values right-aligned in one
   column (every line equally long); no pins yet, one state applied,
   ctl.received > 0.
2. `postmuxctl add 10.0.0.6` publishes one more ring and is one more
   datagram received; nothing failed.
3. USER-ASSIGN of user1 makes director.pins 1, again for user1 keeps it 1,
   user2 makes it 2; `postmuxctl move user3 10.0.0.1` makes it 3, starts a
   move and a kick (director.moving is 1 until the kick delay has passed,
   then 0).
4. `stats director.` prints exactly the 8 director.* lines;
   `stats ctl.received` one line; a prefix that matches nothing prints
   nothing (exit 0); a prefix with a space is refused (64). On the admin
   socket itself POSTMUX-COUNTERS answers "name<TAB>value" lines and the
   empty line, and a bad prefix closes the connection.
5. With the data plane stopped (SIGTERM), `postmuxctl stats` fails at once
   (well under a second, not after the 30 s ring-sync wait) with "Error:
   data plane not connected" on stderr, nothing on stdout, exit 75.
6. A new data plane (scripts/sandbox start) starts its counters afresh.

With one network port, when run as root and scripts/netns-lab can make a
lab (otherwise this part is skipped, with a note, and the rest still
counts): postmux-control and a data plane with a net_af_packet port on
the lab's client veth; after 3 pings from the client namespace, `stats`
lists director.*, ctl.*, then port.client.*, lcore.0.* and drop.* (the
callback main.c wires to pm_ports_counters()), lcore.0.echo_replies >= 3
and port.client.rx_packets >= 3.

The daemons' logs must hold no sanitizer report (build-asan).
"""

import os
import re
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
LAB = os.path.join(REPO, "scripts", "netns-lab")
HANDSHAKE = b"VERSION\tdirector-doveadm\t1\t0\n"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

DIRECTOR = ["director.pins", "director.moving", "director.jobs", "director.rings_published",
            "director.pins_expired", "director.moves_started", "director.kicks",
            "director.pin_buckets"]
CTL = ["ctl.received", "ctl.sent", "ctl.restarts", "ctl.states_applied",
       "ctl.states_refused", "ctl.requests_failed", "ctl.errors_sent", "ctl.kicks"]
LINE = re.compile(r"^([A-Za-z0-9_.-]{1,63})  +([0-9]+)$")


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
                raise EOFError("admin socket closed; unread %r" % self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def cmd(self, *args):
        self.s.sendall(b"\t".join(a.encode() for a in args) + b"\n")
        return self.line().decode()

    def lines(self, *args):
        """A list reply: the lines before the empty one."""
        self.s.sendall(b"\t".join(a.encode() for a in args) + b"\n")
        out = []
        while True:
            line = self.line().decode()
            if line == "":
                return out
            out.append(line)

    def close(self):
        self.s.close()


def postmuxctl(ctl, admin, *args):
    """(exit status, stdout, stderr, seconds) of `postmuxctl -a admin args`."""
    t = time.time()
    p = subprocess.run([ctl, "-a", admin] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode(), time.time() - t


def stats(ctl, admin, *prefix):
    """[(name, value)] from `postmuxctl stats [prefix]`, or None after a
    failed check (exit status, stderr, or the layout: every line
    "name  value" and, with the values right-aligned in one column, all
    lines equally long)."""
    rc, out, err, _ = postmuxctl(ctl, admin, "stats", *prefix)
    what = "postmuxctl stats %s" % " ".join(prefix)
    if not check(rc == 0 and err == "", "%s: exit %d, stderr %r" % (what, rc, err)):
        return None
    lines = out.splitlines()
    if not check(out == "" or out.endswith("\n"), "%s: last line unterminated" % what):
        return None
    res = []
    for line in lines:
        m = LINE.match(line)
        if not check(m is not None, "%s: bad line %r" % (what, line)):
            return None
        res.append((m.group(1), int(m.group(2))))
    check(len(set(len(x) for x in lines)) <= 1,
          "%s: values not right-aligned in one column:\n%s" % (what, out))
    if lines:
        width = max(len(n) for n, _ in res)
        check(all(line[width:width + 2] == "  " and line[:width].rstrip() == n
                  for line, (n, _) in zip(lines, res)),
              "%s: names not padded to the longest:\n%s" % (what, out))
    return res


def alive(pid):
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


def no_sanitizer_report(path, what):
    text = open(path, errors="replace").read() if os.path.exists(path) else ""
    check(not any(m in text for m in SANITIZER_MARKS),
          "%s: sanitizer report in %s:\n%s" % (what, path, text[-3000:]))


# ---- without ports: scripts/sandbox ----------------------------------------------

class Sandbox:
    def __init__(self, d):
        self.dir = d
        self.admin = os.path.join(d, "director-admin")

    def script(self, verb):
        env = dict(os.environ, POSTMUX_SANDBOX_KICK_DELAY="200 ms")
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


def as_dict(res):
    return dict(res) if res is not None else {}


def without_ports(ctl, tmp):
    sb = Sandbox(os.path.join(tmp, "sandbox"))
    try:
        if not sb.start():
            return
        sandbox_checks(ctl, sb)
    finally:
        rc, out, err = sb.script("stop")
        check(rc == 0, "sandbox stop: exit %d %r" % (rc, err))
        for log in ("control.log", "dataplane.log"):
            no_sanitizer_report(os.path.join(sb.dir, log), "without ports")


def sandbox_checks(ctl, sb):
    # 1. The fixed counters, in order, and the layout.
    res = stats(ctl, sb.admin)
    if res is None:
        return
    names = [n for n, _ in res]
    check(names == DIRECTOR + CTL, "stats without ports lists %s" % names)
    s0 = as_dict(res)
    check(s0.get("director.pins") == 0, "no pins at first: %s" % s0)
    check(s0.get("ctl.states_applied") == 1, "one state applied: %s" % s0)
    check(s0.get("ctl.received", 0) > 0, "ctl.received > 0: %s" % s0)
    check(s0.get("director.pin_buckets", 0) > 0, "director.pin_buckets > 0: %s" % s0)
    info("stats, first:\n%s" % postmuxctl(ctl, sb.admin, "stats")[1].rstrip())

    # 2. A backend added with postmuxctl.
    rc, out, err, _ = postmuxctl(ctl, sb.admin, "add", "10.0.0.6")
    check(rc == 0 and out == "" and err == "", "postmuxctl add: exit %d %r" % (rc, err))
    s1 = as_dict(stats(ctl, sb.admin))
    check(s1.get("director.rings_published") == s0.get("director.rings_published", -9) + 1,
          "add publishes one ring: %s -> %s" % (s0.get("director.rings_published"),
                                                 s1.get("director.rings_published")))
    check(s1.get("ctl.received", 0) >= s0.get("ctl.received", 0) + 2,
          "HOST_SET and COUNTERS received: %s -> %s" % (s0.get("ctl.received"),
                                                         s1.get("ctl.received")))
    check(s1.get("ctl.sent", 0) > s0.get("ctl.sent", 0), "ctl.sent grows: %s" % s1)
    check(s1.get("ctl.requests_failed") == 0, "nothing failed: %s" % s1)

    # 3. Pins from USER-ASSIGN and a move.
    a = Admin(sb.admin)
    pins = []
    for user in ("user1", "user1", "user2"):
        ip = a.cmd("USER-ASSIGN", user)
        check(re.match(r"^10\.0\.0\.[1-6]$", ip) is not None,
              "USER-ASSIGN %s answered %r" % (user, ip))
        pins.append(as_dict(stats(ctl, sb.admin, "director.pins")).get("director.pins"))
    a.close()
    check(pins == [1, 1, 2], "director.pins after assigning user1, user1, user2: %s" % pins)
    rc, out, err, _ = postmuxctl(ctl, sb.admin, "move", "user3", "10.0.0.1")
    check(rc == 0 and err == "", "postmuxctl move: exit %d %r" % (rc, err))
    s2 = as_dict(stats(ctl, sb.admin, "director."))
    check(s2.get("director.pins") == 3, "a move pins user3: %s" % s2)
    check(s2.get("director.moves_started") == s1.get("director.moves_started", -9) + 1,
          "one move started: %s" % s2)
    check(s2.get("director.kicks") == s1.get("director.kicks", -9) + 1,
          "one kick: %s" % s2)
    end = time.time() + 10
    while s2.get("director.moving") != 0 and time.time() < end:
        time.sleep(0.1)
        s2 = as_dict(stats(ctl, sb.admin, "director.moving"))
    check(s2.get("director.moving") == 0, "the move ends after the kick delay: %s" % s2)

    # 4. Prefixes.
    res = stats(ctl, sb.admin, "director.")
    check(res is not None and [n for n, _ in res] == DIRECTOR,
          "stats director. lists exactly %s: %s" % (DIRECTOR, res))
    res = stats(ctl, sb.admin, "ctl.received")
    check(res is not None and len(res) == 1 and res[0][0] == "ctl.received",
          "stats ctl.received: %s" % res)
    rc, out, err, _ = postmuxctl(ctl, sb.admin, "stats", "nomatch.")
    check(rc == 0 and out == "" and err == "", "no match: exit %d %r %r" % (rc, out, err))
    rc, out, err, _ = postmuxctl(ctl, sb.admin, "stats", "bad prefix")
    check(rc == 64 and out == "" and "not a counter name prefix" in err,
          "a bad prefix: exit %d %r" % (rc, err))
    rc, out, err, _ = postmuxctl(ctl, sb.admin, "stats", "a", "b")
    check(rc == 64 and out == "", "two prefixes: exit %d %r" % (rc, err))

    # The admin socket itself.
    a = Admin(sb.admin)
    # A prefix, not a name: director.pins_expired starts with it too.
    got = a.lines("POSTMUX-COUNTERS", "director.pins")
    check(got == ["director.pins\t3", "director.pins_expired\t0"],
          "POSTMUX-COUNTERS director.pins: %r" % got)
    got = a.lines("POSTMUX-COUNTERS")
    check([x.split("\t")[0] for x in got] == DIRECTOR + CTL and
          all(re.match(r"^[a-z_.]+\t[0-9]+$", x) for x in got),
          "POSTMUX-COUNTERS: %r" % got)
    a.s.sendall(b"POSTMUX-COUNTERS\tbad prefix\n")
    try:
        line = a.line()
        check(False, "a bad prefix was answered: %r" % line)
    except EOFError:
        pass
    a.close()

    # 5. The data plane stopped: a prompt, clear error.
    dp = sb.pid("dataplane")
    os.kill(dp, signal.SIGTERM)
    if not check(wait_gone(dp, 10), "the data plane outlived SIGTERM by 10 s"):
        return
    # postmux-control notices the EOF at once; give its loop a moment.
    time.sleep(0.3)
    rc, out, err, secs = postmuxctl(ctl, sb.admin, "stats")
    check(rc == 75 and out == "" and err == "Error: data plane not connected\n",
          "stats without a data plane: exit %d %r %r" % (rc, out, err))
    check(secs < 2, "stats without a data plane took %.2f s" % secs)
    info("stats without a data plane: exit %d in %.3f s: %s" % (rc, secs, err.strip()))
    a = Admin(sb.admin)
    t = time.time()
    got = a.lines("POSTMUX-COUNTERS", "director.")
    check(got == ["data plane not connected"] and time.time() - t < 2,
          "POSTMUX-COUNTERS without a data plane: %r" % got)
    a.close()

    # 6. A new data plane: its own counters.
    if not sb.start():
        return
    s3 = as_dict(stats(ctl, sb.admin))
    check(s3.get("director.pins") == 0 and s3.get("ctl.restarts") == 0 and
          s3.get("ctl.states_applied") == 1,
          "a new data plane counts afresh: %s" % s3)


# ---- with a port: scripts/netns-lab ------------------------------------------------

def with_port(ctl, tmp):
    if os.geteuid() != 0:
        info("with a port: skipped (needs root for netns, veth, af_packet)")
        return
    control = os.environ.get("PM_CONTROL")
    dataplane = os.environ.get("PM_DATAPLANE")
    prefix = "s%d" % (os.getpid() % 10000)
    r = subprocess.run([LAB, "up", "--prefix", prefix], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    try:
        if r.returncode != 0:
            info("with a port: skipped (netns-lab up failed: %s)" % r.stderr.strip())
            return
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        port_checks(ctl, control, dataplane, kv, prefix, tmp)
    finally:
        subprocess.run([LAB, "down", "--prefix", prefix], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)


def port_checks(ctl, control, dataplane, kv, prefix, tmp):
    from test_dataplane_net import PINGER, PORT_ADDR as VIP

    d = os.path.join(tmp, "port")
    os.mkdir(d)
    admin = os.path.join(d, "director-admin")
    conf = os.path.join(d, "postmux.conf")
    with open(conf, "w") as f:
        f.write("director_mail_servers = 10.0.0.1-10.0.0.2\n")
        f.write("postmux_admin_socket = %s\n" % admin)
        f.write("postmux_control_socket = %s/control\n" % d)
        f.write("postmux_state_file = %s/state\n" % d)
        f.write("postmux_dpdk_args = --no-huge -m 256 --no-pci --no-shconf "
                "--no-telemetry --file-prefix pm%s\n" % prefix)
        f.write("postmux_port = client net_af_packet0,iface=%s %s/24\n"
                % (kv["client_dp_if"], VIP))
        f.write("postmux_lcores = 1\n")
    clog, dlog = os.path.join(d, "control.log"), os.path.join(d, "dataplane.log")
    procs = []
    try:
        with open(clog, "w") as cf:
            procs.append(subprocess.Popen([control, "-c", conf], stdout=subprocess.DEVNULL,
                                          stderr=cf))
        with open(dlog, "w") as df:
            procs.append(subprocess.Popen([dataplane, "-c", conf],
                                          stdout=subprocess.DEVNULL, stderr=df))
        end = time.time() + 20
        while time.time() < end and all(p.poll() is None for p in procs):
            if "data plane applied the state" in open(clog).read():
                break
            time.sleep(0.1)
        if not check("data plane applied the state" in open(clog).read(),
                     "with a port: the data plane took the state:\n%s\n%s"
                     % (open(clog).read()[-2000:], open(dlog).read()[-2000:])):
            return
        r = subprocess.run(["ip", "netns", "exec", kv["client_ns"], sys.executable, "-c",
                            PINGER, VIP, ",".join([kv["client_addr"]] * 3)],
                           stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        check(r.stdout.strip() == "3/3", "with a port: 3 of 3 echo replies (%r %r)"
              % (r.stdout.strip(), r.stderr.strip()))
        res = stats(ctl, admin)
        if res is None:
            return
        names = [n for n, _ in res]
        s = dict(res)
        groups = []
        for n in names:
            g = n.split(".")[0]
            if not groups or groups[-1] != g:
                groups.append(g)
        check(groups == ["director", "ctl", "port", "lcore", "drop", "kicks"],
              "with a port: counter groups in order %s" % groups)
        check(names[:16] == DIRECTOR + CTL, "with a port: fixed counters first: %s"
              % names[:16])
        check(s.get("lcore.0.echo_replies", 0) >= 3,
              "with a port: lcore.0.echo_replies >= 3: %s" % s.get("lcore.0.echo_replies"))
        check(s.get("port.client.rx_packets", 0) >= 3,
              "with a port: port.client.rx_packets >= 3: %s" % s.get("port.client.rx_packets"))
        check("drop.IP_CSUM" in s, "with a port: drop.IP_CSUM listed")
        res = stats(ctl, admin, "port.")
        check(res is not None and len(res) > 0 and all(n.startswith("port.client.")
                                                       for n, _ in res),
              "with a port: stats port. %s" % res)
        info("with a port: %d counters; lcore.0.echo_replies %s, port.client.rx_packets %s"
             % (len(names), s.get("lcore.0.echo_replies"), s.get("port.client.rx_packets")))
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            check(rc == 0, "with a port: %s exit %s after SIGTERM" % (p.args[0], rc))
        for log in (clog, dlog):
            no_sanitizer_report(log, "with a port")


def main():
    ctl = pmtest.ctl_from_argv()
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
        os.environ[env] = path
    if not os.access(SANDBOX, os.X_OK):
        skip("%s is missing" % SANDBOX)
    os.environ["POSTMUX_SANDBOX_BUILD"] = build
    t = time.time()
    with tempfile.TemporaryDirectory(prefix="pm-stats-") as tmp:
        without_ports(ctl, tmp)
        with_port(ctl, tmp)
    info("%s in %.1f s" % (pmtest.summary(), time.time() - t))
    sys.exit(pmtest.status())


if __name__ == "__main__":
    main()
