#!/usr/bin/env python3
"""postmux-control end to end: the admin socket driven by Debian's real
`doveadm director`, raw admin lines, and a fake data plane on the control
channel.

Usage: test_control_admin.py <path to postmuxctl>   (unused; the common
       argument of the integration tests)
Environment: PM_CONTROL, the postmux-control binary (set by meson);
       PM_TESTDATA (unused).
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr).

What runs, all inside a temporary directory (config, sockets, state file,
a throw-away doveadm config):

1. postmux-control starts with director_mail_servers = 10.0.0.1-10.0.0.5.
   A fake data plane (a thread speaking docs/control-channel.md over
   SOCK_SEQPACKET with a small codec below) answers HELLO and takes the full
   state, then answers requests with a tiny director model: pins, the ring
   of pmtest.Ring, flush, reset, move, kick, assign.
2. doveadm director status/add/update/up/down/remove/flush/move/kick/map/
   dump/ring: outputs and exit codes as Dovecot 2.3's director gives them
   (shared/spec/director.md section 7); where a real director can be
   started (tests/integration/dovecot_lab.py, needs root), the commands that
   need no users are also run side by side against it and must print the
   same (after normalising socket paths, ring ports and dates).
3. Raw lines: a pipelined HOST-DOWN + HOST-FLUSH are both executed;
   garbage, an unknown command, an empty line and a 1024-byte line close
   only that client; a second data plane gets ERROR BUSY.
4. kill -9, restart: the runtime host changes are still there (HOST-LIST),
   and the fake data plane, which reconnects, receives the full state again.
5. SIGTERM: exit 0, both sockets removed.
"""

import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, info, skip  # noqa: E402

DOVEADM = "/usr/bin/doveadm"
SERVERS = "10.0.0.1-10.0.0.5"
HANDSHAKE = b"VERSION\tdirector-doveadm\t1\t0\n"

# ---- the control channel codec (docs/control-channel.md) -------------------

MAGIC = b"PMXC"
HDR = struct.Struct("<4sHHHHIQQ")  # magic version type flags reserved length id gen
F_LAST = 1
T = dict(HELLO=1, STATE_BEGIN=2, STATE_HOSTS=3, STATE_COMMIT=4, HOST_SET=5,
         HOST_UPDOWN=6, HOST_REMOVE=7, HOST_FLUSH=8, RESET_USERS=9, USER_MOVE=10,
         USER_KICK=11, USER_KICK_ALT=12, USER_ASSIGN=13, USER_LOOKUP=14, USER_LIST=15,
         HOST_LIST=16, STATS=17, PING=18, HELLO_ACK=65, REPLY=66, USER_LIST_PART=67,
         HOST_LIST_PART=68, STATS_REPLY=69, PONG=70, ERROR=128)
NAME = {v: k for k, v in T.items()}
ENOENT, EAGAIN = 2, 11


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, n):
        if self.o + n > len(self.b):
            raise ValueError("truncated")
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("<H", self.take(2))[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def i64(self):
        return struct.unpack("<q", self.take(8))[0]

    def s(self):
        return self.take(self.u16()).decode("utf-8", "surrogateescape")

    def addr(self):
        fam, raw = self.take(1)[0], self.take(16)
        if fam == 4:
            return socket.inet_ntop(socket.AF_INET, raw[:4])
        if fam == 6:
            return socket.inet_ntop(socket.AF_INET6, raw)
        return ""  # family 0: none / all


def e_addr(ip):
    if not ip:
        return b"\0" * 17
    if ":" in ip:
        return b"\x06" + socket.inet_pton(socket.AF_INET6, ip)
    return b"\x04" + socket.inet_pton(socket.AF_INET, ip) + b"\0" * 12


def e_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<H", len(b)) + b


def encode(typ, reqid, gen, body=b"", flags=0):
    return HDR.pack(MAGIC, 1, typ, flags, 0, HDR.size + len(body), reqid, gen) + body


def decode(d):
    """(type, flags, request id, generation, fields dict) of a datagram
    postmux-control sends; raises ValueError on anything else."""
    if len(d) < HDR.size:
        raise ValueError("short datagram")
    magic, ver, typ, flags, res, length, reqid, gen = HDR.unpack_from(d)
    if magic != MAGIC or ver != 1 or res != 0 or length != len(d):
        raise ValueError("bad header %r" % (d[:32],))
    r = Reader(d[HDR.size:])
    f = {}
    if typ == T["HELLO"]:
        f = dict(pid=r.u32(), lo=r.u16(), hi=r.u16(), boot=r.take(16))
    elif typ == T["STATE_BEGIN"]:
        f = dict(expire=r.u32(), kick_ms=r.u32(), moves=r.u32(), kicks=r.u32(),
                 nhosts=r.u32(), sep=r.u8(), template=r.s())
    elif typ == T["STATE_HOSTS"]:
        hosts = []
        for _ in range(r.u32()):
            hosts.append(dict(ip=r.addr(), vhosts=r.u16(), down=bool(r.u8()),
                              updown=r.i64(), tag=r.s()))
        f = dict(hosts=hosts)
    elif typ == T["HOST_SET"]:
        f = dict(ip=r.addr(), vhosts=r.u16(), create=bool(r.u8()), tag=r.s())
    elif typ == T["HOST_UPDOWN"]:
        f = dict(ip=r.addr(), down=bool(r.u8()))
    elif typ in (T["HOST_REMOVE"], T["HOST_FLUSH"], T["USER_LIST"]):
        f = dict(ip=r.addr())
    elif typ == T["RESET_USERS"]:
        f = dict(ip=r.addr(), max=r.u32())
    elif typ == T["USER_MOVE"]:
        f = dict(hash=r.u32(), ip=r.addr())
    elif typ == T["USER_KICK"]:
        f = dict(user=r.s())
    elif typ == T["USER_KICK_ALT"]:
        f = dict(field=r.s(), value=r.s())
    elif typ == T["USER_ASSIGN"]:
        f = dict(user=r.s(), tag=r.s())
    elif typ == T["USER_LOOKUP"]:
        f = dict(hash=r.u32(), tag=r.s())
    elif typ == T["ERROR"]:
        f = dict(code=r.u16(), reason=r.s())
    elif typ not in (T["STATE_COMMIT"], T["HOST_LIST"], T["PING"]):
        raise ValueError("unexpected type %d" % typ)
    if r.o != len(r.b):
        raise ValueError("trailing bytes in %s" % NAME.get(typ))
    return typ, flags, reqid, gen, f


# ---- the fake data plane --------------------------------------------------

class FakeDataPlane(threading.Thread):
    """Connects to the control socket (again after every loss, every 50 ms)
    and plays the data plane: HELLO_ACK, takes the full state, answers each
    request. Everything it saw is recorded under self.lock."""

    def __init__(self, path):
        threading.Thread.__init__(self, daemon=True)
        self.path = path
        self.lock = threading.Lock()
        self.stop_flag = False
        self.connections = 0     # completed handshakes
        self.states = []         # each full state received: [host dicts]
        self.seen = []           # (type name, fields) of every request
        self.errors = []         # protocol problems, for the report
        self.hosts = {}          # ip -> dict(vhosts, down, tag, updown)
        self.pins = {}           # user hash -> (ip, expire)
        self.applied = 0
        self.sock = None

    # the model
    def ring(self, tag=""):
        return pmtest.Ring({ip: dict(tag=h["tag"], vhosts=h["vhosts"], up=not h["down"])
                            for ip, h in self.hosts.items()}, tag)

    def reply(self, reqid, req_type, status=0, body=b"", reason=""):
        b = struct.pack("<Hi", req_type, status)
        b += e_str(reason) if status < 0 else body
        self.sock.send(encode(T["REPLY"], reqid, self.applied, b))

    def serve_request(self, typ, reqid, gen, f):
        now = int(time.time())
        if typ == T["PING"]:
            self.sock.send(encode(T["PONG"], reqid, self.applied))
        elif typ == T["HOST_SET"]:
            h = self.hosts.setdefault(f["ip"], dict(vhosts=100, down=False, tag=f["tag"],
                                                    updown=0))
            if f["vhosts"] != 0xffff:
                h["vhosts"] = f["vhosts"]
            self.applied = gen
            self.reply(reqid, typ)
        elif typ == T["HOST_UPDOWN"]:
            if f["ip"] in self.hosts:
                self.hosts[f["ip"]]["down"] = f["down"]
            self.applied = gen
            self.reply(reqid, typ)
        elif typ == T["HOST_REMOVE"]:
            self.hosts.pop(f["ip"], None)
            self.pins = {k: v for k, v in self.pins.items() if v[0] != f["ip"]}
            self.applied = gen
            self.reply(reqid, typ)
        elif typ == T["HOST_FLUSH"]:
            gone = [k for k, v in self.pins.items() if not f["ip"] or v[0] == f["ip"]]
            for k in gone:
                del self.pins[k]
            self.reply(reqid, typ, body=struct.pack("<Q", len(gone)))
        elif typ == T["RESET_USERS"]:
            ring = self.ring()
            for k, (ip, exp) in list(self.pins.items()):
                if not f["ip"] or ip == f["ip"]:
                    self.pins[k] = (ring.lookup_hash(k), exp)
            self.reply(reqid, typ)
        elif typ == T["USER_MOVE"]:
            if f["ip"] not in self.hosts:
                self.reply(reqid, typ, -ENOENT, reason="no such host")
            else:
                self.pins[f["hash"]] = (f["ip"], now + 900)
                self.reply(reqid, typ)
        elif typ in (T["USER_KICK"], T["USER_KICK_ALT"]):
            self.reply(reqid, typ)
        elif typ == T["USER_ASSIGN"]:
            h = pmtest.user_hash(f["user"].encode())
            if h in self.pins:
                ip, res = self.pins[h][0], 0
            else:
                ip, res = self.ring(f["tag"]).lookup_hash(h), 1
                if not ip:
                    self.reply(reqid, typ, body=struct.pack("<B", 3) + e_addr("") +
                               struct.pack("<I", 0))
                    return
                self.pins[h] = (ip, now + 900)
            self.reply(reqid, typ, body=struct.pack("<B", res) + e_addr(ip) +
                       struct.pack("<I", self.pins[h][1]))
        elif typ == T["USER_LOOKUP"]:
            cur, exp = self.pins.get(f["hash"], ("", 0))
            hashed = self.ring(f["tag"]).lookup_hash(f["hash"])
            self.reply(reqid, typ, body=e_addr(cur) + struct.pack("<IB", exp, 0) +
                       e_addr(hashed))
        elif typ == T["USER_LIST"]:
            rows = [(k, v) for k, v in sorted(self.pins.items())
                    if not f["ip"] or v[0] == f["ip"]]
            body = struct.pack("<I", len(rows))
            for k, (ip, exp) in rows:
                body += struct.pack("<II", k, exp) + e_addr(ip) + struct.pack("<HB", 0, 0)
            self.sock.send(encode(T["USER_LIST_PART"], reqid, self.applied, body, F_LAST))
        elif typ == T["HOST_LIST"]:
            body = struct.pack("<I", len(self.hosts))
            for ip in sorted(self.hosts, key=pmtest.ip_key):
                h = self.hosts[ip]
                users = sum(1 for v in self.pins.values() if v[0] == ip)
                body += (e_addr(ip) + struct.pack("<HBqIH", h["vhosts"], h["down"],
                                                  h["updown"], users, 0) + e_str(h["tag"]))
            self.sock.send(encode(T["HOST_LIST_PART"], reqid, self.applied, body, F_LAST))
        else:
            self.errors.append("unexpected request %s" % NAME.get(typ, typ))

    def session(self):
        s = self.sock
        typ, _, reqid, gen, f = decode(s.recv(70000))
        if typ != T["HELLO"] or f["lo"] != 1 or f["hi"] != 1 or gen != 0:
            self.errors.append("first datagram %s %r" % (NAME.get(typ), f))
            return
        s.send(encode(T["HELLO_ACK"], reqid, self.applied,
                      struct.pack("<IHB", os.getpid(), 1, 1 if self.pins else 0) + b"\x11" * 16))
        typ, _, _, g, f = decode(s.recv(70000))
        if typ != T["STATE_BEGIN"]:
            self.errors.append("expected STATE_BEGIN, got %s" % NAME.get(typ))
            return
        hosts = []
        while True:
            typ, _, reqid, g2, f2 = decode(s.recv(70000))
            if typ == T["STATE_COMMIT"]:
                break
            if typ != T["STATE_HOSTS"] or g2 != g:
                self.errors.append("in the state: %s" % NAME.get(typ))
                return
            hosts += f2["hosts"]
        if len(hosts) != f["nhosts"]:
            self.errors.append("state announced %d hosts, carried %d" % (f["nhosts"], len(hosts)))
        with self.lock:
            self.hosts = {h["ip"]: dict(vhosts=h["vhosts"], down=h["down"], tag=h["tag"],
                                        updown=h["updown"]) for h in hosts}
            # pins on hosts that no longer exist are forgotten
            self.pins = {k: v for k, v in self.pins.items() if v[0] in self.hosts}
            self.applied = g
            self.states.append(hosts)
            self.connections += 1
        self.reply(reqid, T["STATE_COMMIT"])
        s.settimeout(0.2)
        while not self.stop_flag:
            try:
                d = s.recv(70000)
            except socket.timeout:
                continue
            if not d:
                return
            typ, _, reqid, gen, f = decode(d)
            with self.lock:
                self.seen.append((NAME.get(typ), f))
                self.serve_request(typ, reqid, gen, f)

    def run(self):
        while not self.stop_flag:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                s.connect(self.path)
            except OSError:
                s.close()
                time.sleep(0.05)
                continue
            s.settimeout(5)
            self.sock = s
            try:
                self.session()
            except (OSError, ValueError) as e:
                if not self.stop_flag and not isinstance(e, (ConnectionResetError,
                                                             BrokenPipeError)):
                    self.errors.append("session: %r" % (e,))
            finally:
                s.close()

    def wait_connections(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.connections >= n:
                    return True
            time.sleep(0.02)
        return False

    def requests(self, name):
        with self.lock:
            return [f for t, f in self.seen if t == name]


# ---- admin clients --------------------------------------------------------

class Admin:
    """A raw director-doveadm connection."""

    def __init__(self, path, handshake=True):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""
        banner = self.line()
        if banner != HANDSHAKE.rstrip(b"\n"):
            raise AssertionError("banner %r" % banner)
        if handshake:
            self.s.sendall(HANDSHAKE)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        l, self.buf = self.buf.split(b"\n", 1)
        return l

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\n")
        return self.line().decode()

    def lines(self, line):
        self.s.sendall(line.encode() + b"\n")
        out = []
        while True:
            l = self.line()
            if l == b"":
                return out
            out.append(l.decode())

    def closed(self, timeout=5):
        """True if the server closes the connection (EOF) in time."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


class Doveadm:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "doveadm")
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as fp:
            fp.write("base_dir = %s\n" % os.path.join(self.dir, "run"))
            fp.write("state_dir = %s\n" % os.path.join(self.dir, "state"))
            fp.write("log_path = %s\n" % os.path.join(self.dir, "doveadm.log"))
        self.env = {"PATH": "/usr/bin:/bin", "HOME": self.dir, "LANG": "C", "LC_ALL": "C",
                    "TZ": "UTC"}

    def run(self, sock, *args):
        """(exit status, stdout, stderr) of `doveadm director <args...> -a sock`;
        the first one or two words are the subcommand."""
        words = list(args)
        sub = words[:2] if words[0] == "ring" else words[:1]
        rest = words[len(sub):]
        p = subprocess.run([DOVEADM, "-c", self.conf, "director"] + sub + ["-a", sock] + rest,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self.env, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()


# ---- the daemon -----------------------------------------------------------

class Daemon:
    def __init__(self, binary, tmp):
        self.binary = binary
        self.tmp = tmp
        os.makedirs(tmp, exist_ok=True)
        self.run_dir = os.path.join(tmp, "run", "postmux")   # created by the daemon
        self.admin = os.path.join(self.run_dir, "director-admin")
        self.control = os.path.join(self.run_dir, "control")
        self.state = os.path.join(tmp, "lib", "state")
        self.conf = os.path.join(tmp, "postmux.conf")
        self.log = os.path.join(tmp, "postmux-control.log")
        with open(self.conf, "w") as fp:
            fp.write("director_mail_servers = %s\n" % SERVERS)
            fp.write("director_user_kick_delay = 1 s\n")
            fp.write("postmux_admin_socket = %s\n" % self.admin)
            fp.write("postmux_admin_socket_mode = 0660\n")
            fp.write("postmux_control_socket = %s\n" % self.control)
            fp.write("postmux_state_file = %s\n" % self.state)
        self.proc = None

    def start(self):
        logf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen([self.binary, "-c", self.conf, "-v"],
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        finally:
            logf.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                Admin(self.admin).close()
                return True
            except (OSError, AssertionError, EOFError):
                time.sleep(0.02)
        return False

    def log_text(self):
        try:
            with open(self.log, "rb") as fp:
                return fp.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---- the checks -----------------------------------------------------------

def status_rows(out):
    """doveadm director status -> {ip: (tag, vhosts, state, changed, users)}.
    The tag column is blank when untagged and "state changed" is "-" or a
    date and a time, so the row is read from both ends."""
    rows = {}
    for line in out.splitlines()[1:]:
        f = line.split()
        if not f:
            continue
        if f[-2] == "-":
            changed, mid = "-", f[1:-2]
        else:
            changed, mid = f[-3] + " " + f[-2], f[1:-3]
        if len(mid) == 2:
            mid.insert(0, "")
        rows[f[0]] = (mid[0], int(mid[1]), mid[2], changed, int(f[-1]))
    return rows


def check_doveadm(d, dv, dp):
    sock = d.admin
    rc, out, err = dv.run(sock, "status")
    check(rc == 0 and not err, "status: exit %d, stderr %r" % (rc, err))
    rows = status_rows(out)
    check(sorted(rows) == ["10.0.0.%d" % i for i in range(1, 6)], "status hosts: %r" % rows)
    check(all(r == ("", 100, "up", "-", 0) for r in rows.values()), "status rows: %r" % rows)

    check(dv.run(sock, "add", "10.0.0.9", "50") == (0, "", ""), "add 10.0.0.9 50")
    rc, out, err = dv.run(sock, "add", "10.0.0.9@foo")
    check((rc, err) == (75, "Error: 10.0.0.9: host tag can't be changed\n"),
          "add with another tag: %d %r" % (rc, err))
    rc, out, err = dv.run(sock, "add", "10.0.0.10", "5000")
    check((rc, err) == (75, "Error: 10.0.0.10: vhost count too large\n"),
          "add 5000 vhosts: %d %r" % (rc, err))
    rc, out, err = dv.run(sock, "update", "10.0.0.77", "5")
    check((rc, err) == (75, "Error: 10.0.0.77: doesn't exist\n"), "update unknown: %d %r"
          % (rc, err))
    check(dv.run(sock, "update", "10.0.0.9", "60") == (0, "", ""), "update 10.0.0.9 60")
    for verb in ("up", "down", "remove"):
        rc, out, err = dv.run(sock, verb, "10.0.0.77")
        check((rc, err) == (68, "Error: 10.0.0.77: doesn't exist\n"),
              "%s unknown: %d %r" % (verb, rc, err))
    check(dv.run(sock, "down", "10.0.0.2") == (0, "", ""), "down 10.0.0.2")
    check(dv.run(sock, "remove", "10.0.0.3") == (0, "", ""), "remove 10.0.0.3")
    rc, out, err = dv.run(sock, "status")
    rows = status_rows(out)
    check(rc == 0 and sorted(rows) == ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5",
                                       "10.0.0.9"], "status after changes: %r" % rows)
    check(rows.get("10.0.0.2", ("",) * 5)[2] == "down" and
          re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", rows["10.0.0.2"][3]) is not None,
          "10.0.0.2 down with a change date: %r" % (rows.get("10.0.0.2"),))
    check(rows.get("10.0.0.9", ("",) * 5)[1] == 60, "10.0.0.9 has 60 vhosts: %r"
          % (rows.get("10.0.0.9"),))
    # the fake data plane followed every change
    with dp.lock:
        model = {ip: (h["vhosts"], h["down"]) for ip, h in dp.hosts.items()}
    check(model == {"10.0.0.1": (100, False), "10.0.0.2": (100, True), "10.0.0.4": (100, False),
                    "10.0.0.5": (100, False), "10.0.0.9": (60, False)},
          "data plane's hosts after the changes: %r" % model)

    rc, out, err = dv.run(sock, "dump")
    want = ("doveadm director add -a {0} 10.0.0.1 100\n"
            "doveadm director add -a {0} 10.0.0.2 100\n"
            "doveadm director add -a {0} 10.0.0.4 100\n"
            "doveadm director add -a {0} 10.0.0.5 100\n"
            "doveadm director add -a {0} 10.0.0.9 60\n"
            "doveadm director remove -a {0} 10.0.0.3 \n").format(sock)
    check((rc, out, err) == (0, want, ""), "dump: %d %r %r" % (rc, out, err))

    # users: move, status <user>, map, flush, kick
    check(dv.run(sock, "move", "user1", "10.0.0.4") == (0, "", ""), "move user1 10.0.0.4")
    moves = dp.requests("USER_MOVE")
    check(moves and moves[-1] == {"hash": 617210206, "ip": "10.0.0.4"},
          "USER_MOVE sent with doveadm's hash: %r" % moves)
    rc, out, err = dv.run(sock, "move", "user1", "10.0.0.77")
    check((rc, err) == (68, "Error: Host '10.0.0.77' doesn't exist\n"),
          "move to unknown: %d %r" % (rc, err))
    with dp.lock:
        hashed = dp.ring().lookup(b"user1")
    rc, out, err = dv.run(sock, "status", "user1")
    m = re.match(r"Current: 10\.0\.0\.4 \(expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)\n"
                 r"Hashed: (\S+)\nInitial config: 10\.0\.0\.3\n$", out)
    check(rc == 0 and m is not None and m.group(1) == hashed,
          "status user1: %d %r %r (hashed should be %s)" % (rc, out, err, hashed))
    rc, out, err = dv.run(sock, "status", "user2")
    check(rc == 0 and out.startswith("Current: n/a (expires -1)\n") and
          out.endswith("Initial config: 10.0.0.3\n"), "status user2: %r" % out)
    users = os.path.join(dv.dir, "users")
    with open(users, "w") as fp:
        fp.write("user1\nuser2\n")
    rc, out, err = dv.run(sock, "map", "-f", users)
    check(rc == 0 and re.search(r"^user1\s+617210206\s+10\.0\.0\.4\s+\d{4}-", out, re.M),
          "map -f: %d %r %r" % (rc, out, err))
    rc, out, err = dv.run(sock, "status")
    check(status_rows(out).get("10.0.0.4", (0,) * 5)[4] == 1,
          "status shows the data plane's user count: %r" % out)
    rc, out, err = dv.run(sock, "flush", "10.0.0.77")
    check((rc, err) == (68, "Warning: 10.0.0.77: doesn't exist\n"),
          "flush unknown: %d %r" % (rc, err))
    rc, out, err = dv.run(sock, "flush", "-F", "10.0.0.77")
    check((rc, err) == (68, "Warning: 10.0.0.77: doesn't exist\n"),
          "flush -F unknown: %d %r" % (rc, err))
    check(dv.run(sock, "flush", "10.0.0.4") == (0, "", ""), "flush 10.0.0.4")
    resets = dp.requests("RESET_USERS")
    check(resets and resets[-1] == {"ip": "10.0.0.4", "max": 0}, "RESET_USERS: %r" % resets)
    check(dv.run(sock, "flush", "--max-parallel", "7", "all") == (0, "", ""),
          "flush --max-parallel 7 all")
    resets = dp.requests("RESET_USERS")
    check(resets and resets[-1] == {"ip": "", "max": 7}, "RESET_USERS all: %r" % resets)
    check(dv.run(sock, "flush", "-F", "10.0.0.1") == (0, "", ""), "flush -F 10.0.0.1")
    check(dv.run(sock, "flush", "-F", "all") == (0, "", ""), "flush -F all")
    flushes = dp.requests("HOST_FLUSH")
    check([f["ip"] for f in flushes[-2:]] == ["10.0.0.1", ""], "HOST_FLUSH: %r" % flushes)
    check("Flushed all backend hosts with" in d.log_text(), "the unsafe-flush warning is logged")
    check(dv.run(sock, "kick", "user1") == (0, "", ""), "kick user1")
    check(dp.requests("USER_KICK")[-1:] == [{"user": "user1"}], "USER_KICK sent")
    check(dv.run(sock, "kick", "-f", "user_group", "staff") == (0, "", ""), "kick -f")
    check(dp.requests("USER_KICK_ALT")[-1:] == [{"field": "user_group", "value": "staff"}],
          "USER_KICK_ALT sent")

    # the director ring of a standalone director
    rc, out, err = dv.run(sock, "ring", "status")
    lines = out.splitlines()
    check(rc == 0 and len(lines) == 2 and lines[1].split()[:6] ==
          ["127.0.0.1", "0", "self", "never", "ring", "synced"], "ring status: %r" % out)
    # another director: accepted and listed unreachable, as a standalone
    # Dovecot director does; removing it again works, twice does not
    rc, out, err = dv.run(sock, "ring", "add", "10.1.1.1")
    check((rc, err) == (0, ""), "ring add: %d %r" % (rc, err))
    rc, out, err = dv.run(sock, "ring", "status")
    check(rc == 0 and any(l.split()[:2] == ["10.1.1.1", "0"] for l in out.splitlines()),
          "ring status lists the added director: %r" % out)
    rc, out, err = dv.run(sock, "ring", "remove", "10.1.1.1")
    check((rc, err) == (0, ""), "ring remove: %d %r" % (rc, err))
    rc, out, err = dv.run(sock, "ring", "remove", "10.1.1.1")
    check((rc, err) == (68, "Error: Not found\n"), "ring remove again: %d %r" % (rc, err))


def normalise(text, sock, port=None):
    text = text.replace(sock, "<sock>")
    if port is not None:
        text = re.sub(r"\b%d\b" % port, "<port>", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<date>", text)
    # doveadm pads table columns to the widest cell; compare the cells
    return "\n".join(" ".join(l.split()) for l in text.split("\n"))


def side_by_side(binary, tmp, dv):
    """The same doveadm commands against a real Dovecot director (when one
    can be started) and against a fresh postmux-control with a fake data
    plane: the same output and exit status."""
    try:
        import dovecot_lab
    except ImportError as e:
        info("# no side-by-side run: %s" % e)
        return
    if dovecot_lab.missing_binaries() or os.geteuid() != 0:
        info("# no side-by-side run: the real director needs root and dovecot-core")
        return
    d = Daemon(binary, os.path.join(tmp, "side"))
    dp = FakeDataPlane(d.control)
    try:
        if not check(d.start(), "a second postmux-control for the side-by-side run"):
            return
        dp.start()
        if not check(dp.wait_connections(1), "its fake data plane connects"):
            return
        side_by_side_run(d.admin, dv, dovecot_lab)
    finally:
        dp.stop_flag = True
        d.stop()


def side_by_side_run(pm_sock, dv, dovecot_lab):
    """Run each command on both; compare exit status, stdout and stderr."""
    script = [("status",), ("add", "10.0.0.9", "50"), ("add", "10.0.0.9@foo"),
              ("add", "10.0.0.10", "5000"), ("add", "-t", "blue", "10.0.1.1"),
              ("update", "10.0.0.77", "5"), ("update", "10.0.0.9", "60"),
              ("up", "10.0.0.77"), ("down", "10.0.0.77"), ("remove", "10.0.0.77"),
              ("down", "10.0.0.2"), ("down", "10.0.0.2"), ("up", "10.0.0.2"),
              ("remove", "10.0.0.3"), ("status",), ("dump",), ("status", "user1"),
              ("status", "user1", "blue"), ("flush", "10.0.0.77"), ("flush", "-F", "10.0.0.77"),
              ("move", "user1", "10.0.0.77"), ("ring", "remove", "10.1.1.1")]
    info("# side by side with a real Dovecot director: %d doveadm commands" % len(script))
    try:
        with dovecot_lab.DirectorLab(SERVERS) as lab:
            for args in script:
                theirs = dv.run(lab.admin_socket, *args)
                ours = dv.run(pm_sock, *args)
                t = (theirs[0], normalise(theirs[1], lab.admin_socket, lab.port),
                     normalise(theirs[2], lab.admin_socket, lab.port))
                o = (ours[0], normalise(ours[1], pm_sock), normalise(ours[2], pm_sock))
                check(t == o, "doveadm director %s: real director %r, postmux %r"
                      % (" ".join(args), t, o))
    except dovecot_lab.LabError as e:
        info("# no side-by-side run: %s" % e)


def check_raw(d, dp):
    a = Admin(d.admin)
    b = Admin(d.admin)
    # pipelined in one write: both executed, in order (poolmon issue #8)
    n_flush = len(dp.requests("HOST_FLUSH"))
    a.s.sendall(b"HOST-DOWN\t10.0.0.5\nHOST-FLUSH\t10.0.0.5\n")
    check(a.line() == b"OK" and a.line() == b"OK", "pipelined DOWN + FLUSH: two OKs")
    fl = dp.requests("HOST_FLUSH")
    check(len(fl) == n_flush + 1 and fl[-1] == {"ip": "10.0.0.5"},
          "the pipelined FLUSH reached the data plane: %r" % fl[n_flush:])
    check(dp.requests("HOST_UPDOWN")[-1:] == [{"ip": "10.0.0.5", "down": True}],
          "the pipelined DOWN reached the data plane")
    check(a.cmd("HOST-UP\t10.0.0.5") == "OK", "HOST-UP")
    rows = a.lines("HOST-LIST")
    check("10.0.0.1\t100\t0\t\tU\t0" in rows, "HOST-LIST line format: %r" % rows)
    check(a.cmd("USER-LOOKUP\tuser3\t") == "\t0\t%s\t10.0.0.5" % dp.ring().lookup(b"user3"),
          "USER-LOOKUP user3 (spec 7.2: initial 10.0.0.5)")
    ip = a.cmd("USER-ASSIGN\tuser5")
    check(ip == dp.ring().lookup(b"user5"), "USER-ASSIGN user5 -> %r" % ip)
    check(a.lines("DIRECTOR-LIST") == ["127.0.0.1\t0\tself\t0\tring synced\t0"], "DIRECTOR-LIST")

    # bad input closes only that client
    for bad in (b"HOST-FOO\n", b"\n", b"A" * 1024 + b"\n", b"HOST-UPDATE\t10.0.0.1\n",
                b"\x00\x01garbage\xff\n"):
        c = Admin(d.admin)
        c.s.sendall(b"HOST-LIST\n" + bad)
        got = b""
        c.s.settimeout(5)
        try:
            while True:
                chunk = c.s.recv(65536)
                if not chunk:
                    break
                got += chunk
            closed = True
        except socket.timeout:
            closed = False
        check(closed and got.endswith(b"\n\n"),
              "%r: answered the HOST-LIST before it, then closed (%r)" % (bad[:20], got[-20:]))
        c.close()
        check(b.cmd("HOST-UP\t10.0.0.1") == "OK", "another client is unaffected by %r" % bad[:20])
    c = Admin(d.admin, handshake=False)
    c.s.sendall(b"VERSION\tdirector-doveadm\t2\t0\n")
    check(c.closed(), "a wrong major version closes")
    c.close()
    log = d.log_text()
    for reason in ("doveadm sent unknown command", "doveadm sent empty command line",
                   "doveadm sent a line longer than 1023 bytes",
                   "doveadm sent invalid HOST-UPDATE parameters", "doveadm not compatible"):
        check(reason in log, "logged: %s" % reason)

    # a second data plane is refused with ERROR BUSY, the first stays
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(d.control)
    try:
        typ, _, _, _, f = decode(s.recv(70000))
        check(typ == T["ERROR"] and f == {"code": 1, "reason": "another data plane is connected"},
              "second data plane: %s %r" % (NAME.get(typ), f))
        check(s.recv(70000) == b"", "the second data plane is closed")
    except (OSError, ValueError) as e:
        check(False, "second data plane: %r" % (e,))
    s.close()
    check(b.cmd("USER-KICK\tbob") == "OK", "the first data plane still answers")
    a.close()
    b.close()


def main():
    binary = os.environ.get("PM_CONTROL")
    if not binary:
        skip("PM_CONTROL (the postmux-control binary) is not set")
    if not os.access(binary, os.X_OK):
        sys.stderr.write("FAIL: %s is not an executable\n" % binary)
        return 1
    if not os.access(DOVEADM, os.X_OK):
        skip("doveadm is not installed (Debian package dovecot-core)")
    tmp = tempfile.mkdtemp(prefix="pm-control-")
    d = Daemon(binary, tmp)
    dp = None
    try:
        dv = Doveadm(tmp)
        probe = subprocess.run([DOVEADM, "-c", dv.conf, "director", "map", "-u", "user1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dv.env)
        if probe.returncode != 0 or probe.stdout.strip() != b"617210206":
            skip("doveadm does not run here: %r" % (probe.stderr,))

        # --help is true to the code, a bad config exits 2 with file:line
        p = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(p.returncode == 0 and b"-c, --config" in p.stdout, "--help")
        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w") as fp:
            fp.write("director_mail_servers = 10.0.0.1\ndirector_user_expire = 5 s\n")
        p = subprocess.run([binary, "-c", bad], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(p.returncode == 2 and p.stderr.decode().startswith(bad + ":2: "),
              "bad config: exit %d, %r" % (p.returncode, p.stderr))

        if not check(d.start(), "postmux-control starts"):
            return 1
        check(stat.S_IMODE(os.stat(d.admin).st_mode) == 0o660, "admin socket mode 0660")
        check(stat.S_IMODE(os.stat(d.control).st_mode) == 0o600, "control socket mode 0600")
        check(stat.S_IMODE(os.stat(d.run_dir).st_mode) == 0o755, "socket directory 0755")
        # a second daemon on the same sockets refuses to start
        p = subprocess.run([binary, "-c", d.conf], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        check(p.returncode == 1 and b"another postmux-control is running" in p.stderr,
              "second daemon: exit %d %r" % (p.returncode, p.stderr[-200:]))

        # Without a data plane: host commands work, the rest waits.
        a = Admin(d.admin)
        check(a.cmd("HOST-SET\t10.0.0.6\t10") == "OK", "HOST-SET without a data plane")
        check(a.cmd("HOST-REMOVE\t10.0.0.6") == "OK", "HOST-REMOVE without a data plane")
        a.s.sendall(b"USER-KICK\tearly\n")
        dp = FakeDataPlane(d.control)
        dp.start()
        check(dp.wait_connections(1), "the fake data plane completed the handshake")
        check(a.line() == b"OK", "a waiting USER-KICK runs once a data plane arrives")
        check(dp.requests("USER_KICK") == [{"user": "early"}], "... and reached it")
        a.close()
        with dp.lock:
            first = sorted(h["ip"] for h in dp.states[0])
        check(first == ["10.0.0.%d" % i for i in range(1, 6)], "full state: %r" % first)

        check_doveadm(d, dv, dp)
        check_raw(d, dp)
        side_by_side(binary, tmp, dv)

        # kill -9 and restart: runtime changes survive; the data plane
        # reconnects and gets the full state again.
        with dp.lock:
            before = dp.connections
        d.proc.kill()
        d.proc.wait()
        check(os.path.exists(d.admin), "kill -9 leaves the socket file behind")
        if not check(d.start(), "postmux-control restarts over the stale sockets"):
            return 1
        check(dp.wait_connections(before + 1), "the data plane reconnected")
        with dp.lock:
            state = {h["ip"]: (h["vhosts"], h["down"]) for h in dp.states[-1]}
        want = {"10.0.0.1": (100, False), "10.0.0.2": (100, True), "10.0.0.4": (100, False),
                "10.0.0.5": (100, False), "10.0.0.9": (60, False)}
        check(state == want, "full state after the restart: %r" % state)
        check("removed stale socket" in d.log_text(), "the stale sockets were reported")
        a = Admin(d.admin)
        rows = a.lines("HOST-LIST")
        check([r.split("\t")[:2] + [r.split("\t")[4]] for r in rows] ==
              [["10.0.0.1", "100", "U"], ["10.0.0.2", "100", "D"], ["10.0.0.4", "100", "U"],
               ["10.0.0.5", "100", "U"], ["10.0.0.9", "60", "U"]],
              "HOST-LIST after the restart: %r" % rows)
        check(a.lines("HOST-LIST-REMOVED") == ["10.0.0.3"], "HOST-LIST-REMOVED after restart")
        a.close()

        # SIGTERM: exit 0, sockets removed
        d.proc.send_signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "SIGTERM: exit status %r" % rc)
        check(not os.path.exists(d.admin) and not os.path.exists(d.control),
              "SIGTERM removes both sockets")
        if dp.errors:
            check(False, "fake data plane: %s" % "; ".join(dp.errors[:5]))
        log = d.log_text()
        check("password" not in log.lower(), "no password in the log")
        # a sanitizer build (scripts/test's ASan/UBSan run) reports here
        check("AddressSanitizer" not in log and "runtime error:" not in log and
              "LeakSanitizer" not in log, "no sanitizer report in the log")
    finally:
        if dp is not None:
            dp.stop_flag = True
        d.stop()
        if pmtest.FAILURES:
            sys.stderr.write("--- postmux-control log ---\n%s" % d.log_text()[-6000:])
        shutil.rmtree(tmp, ignore_errors=True)
    print(pmtest.summary())
    return pmtest.status()


if __name__ == "__main__":
    sys.exit(main())
