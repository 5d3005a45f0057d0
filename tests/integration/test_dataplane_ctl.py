#!/usr/bin/env python3
"""postmux-dataplane against a fake postmux-control, over the real socket.

Usage: test_dataplane_ctl.py <path to postmuxctl>   (env PM_DATAPLANE: the
postmux-dataplane binary)
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr).

The test plays postmux-control (docs/control-channel.md): it listens on a
temporary AF_UNIX SOCK_SEQPACKET socket, writes a configuration file that
points the data plane at it, starts postmux-dataplane and speaks protocol
version 1 with a small encoder of its own (only the messages it needs).

Checks:
  * HELLO -> HELLO_ACK (version 1, the data plane's pid, no pins, generation 0);
  * a full state (STATE_BEGIN, STATE_HOSTS, STATE_COMMIT) -> REPLY 0;
  * USER_ASSIGN answers equal `postmuxctl ring` for the same backends, for
    the untagged ring and a tagged one; a second assign is PINNED;
  * HOST_LIST shows the state, with the control side's last_updown times
    and the pins counted;
  * the fake control goes away (socket closed and removed) and comes back:
    the data plane reconnects on its own, says has_pins=1 and generation 1,
    accepts the full state again and still has every pin (USER_LOOKUP);
  * 80,000 pipelined USER_ASSIGNs, read only after all were sent, are all
    answered in order (the data plane queues what the socket cannot take),
    and a USER_LIST of every pin read late arrives whole, in parts;
  * SIGTERM ends it with status 0 within a few seconds, and so does SIGINT,
    even when inherited as ignored (a shell's background job);
  * a bad configuration file: exit status 2 and a "file:line:" message.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, info, skip  # noqa: E402

# ---- the wire format, version 1 (docs/control-channel.md) --------------------

MAGIC = 0x43584D50
HDR = struct.Struct("<IHHHHIQQ")  # magic version type flags reserved length reqid gen

HELLO, STATE_BEGIN, STATE_HOSTS, STATE_COMMIT = 1, 2, 3, 4
USER_ASSIGN, USER_LOOKUP, USER_LIST, HOST_LIST, PING = 13, 14, 15, 16, 18
HELLO_ACK, REPLY, USER_LIST_PART, HOST_LIST_PART, PONG, ERROR = 65, 66, 67, 68, 70, 128
F_LAST = 1
ASSIGN_PINNED, ASSIGN_HASHED = 0, 1


def enc_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<H", len(b)) + b


def enc_addr(ip):
    if ip is None:
        return bytes(17)
    if ":" in ip:
        return b"\x06" + socket.inet_pton(socket.AF_INET6, ip)
    return b"\x04" + socket.inet_pton(socket.AF_INET, ip) + bytes(12)


def datagram(mtype, reqid, gen, body=b"", flags=0):
    return HDR.pack(MAGIC, 1, mtype, flags, 0, HDR.size + len(body), reqid, gen) + body


class Reader:
    """Reads fields from a body in order."""

    def __init__(self, data):
        self.data, self.off = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.off)
        self.off += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def string(self):
        n = self.take("<H")
        s = self.data[self.off:self.off + n]
        self.off += n
        return s.decode()

    def addr(self):
        fam = self.data[self.off]
        raw = self.data[self.off + 1:self.off + 17]
        self.off += 17
        if fam == 0:
            return ""
        if fam == 4:
            return socket.inet_ntop(socket.AF_INET, raw[:4])
        return socket.inet_ntop(socket.AF_INET6, raw)


def parse(dgram):
    """(type, flags, reqid, gen, body) of a datagram, checking the header."""
    magic, ver, mtype, flags, res, length, reqid, gen = HDR.unpack_from(dgram)
    if not (magic == MAGIC and ver == 1 and res == 0 and length == len(dgram)):
        raise ValueError("bad header %r" % dgram[:HDR.size])
    return mtype, flags, reqid, gen, dgram[HDR.size:]


class FakeControl:
    """postmux-control's end of the channel: listen, accept, request."""

    def __init__(self, path):
        self.path = path
        self.lsock = None
        self.conn = None
        self.reqid = 0

    def listen(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.lsock.bind(self.path)
        self.lsock.listen(4)

    def accept(self, timeout):
        self.lsock.settimeout(timeout)
        self.conn, _ = self.lsock.accept()
        self.conn.settimeout(10)
        self.reqid = 0

    def go_away(self):
        """A crashed postmux-control: both sockets closed, the path gone."""
        self.conn.close()
        self.lsock.close()
        os.unlink(self.path)
        self.conn = self.lsock = None

    def send(self, mtype, gen=0, body=b"", answered=True):
        reqid = 0
        if answered:
            self.reqid += 1
            reqid = self.reqid
        self.conn.send(datagram(mtype, reqid, gen, body))
        return reqid

    def recv(self):
        d = self.conn.recv(65536 + 1)
        if not d:
            raise EOFError("the data plane closed the connection")
        return parse(d)

    def request(self, mtype, gen=0, body=b""):
        """Send a request and return (type, flags, gen, body) of its answer."""
        reqid = self.send(mtype, gen, body)
        t, flags, rid, g, b = self.recv()
        if rid != reqid:
            raise ValueError("answer to %d for request %d" % (rid, reqid))
        if t == ERROR:
            r = Reader(b)
            raise ValueError("ERROR %d: %s" % (r.take("<H"), r.string()))
        return t, flags, g, b

    def hello(self):
        body = struct.pack("<IHH", os.getpid(), 1, 1) + os.urandom(16)
        t, _, gen, b = self.request(HELLO, 0, body)
        if t != HELLO_ACK:
            raise ValueError("HELLO answered by type %d" % t)
        r = Reader(b)
        pid, version, has_pins = r.take("<IHB")
        return {"pid": pid, "version": version, "has_pins": has_pins, "gen": gen}

    def state(self, gen, hosts, tmpl="%Lu"):
        """hosts: [(ip, tag, vhosts, down, last_updown_s)]. Returns (status,
        generation, reason) of the REPLY to STATE_COMMIT."""
        begin = struct.pack("<IIIIIB", 900, 2000, 100, 100, len(hosts), 0) + enc_str(tmpl)
        self.send(STATE_BEGIN, gen, begin, answered=False)
        entries = b"".join(enc_addr(ip) + struct.pack("<HBq", vh, down, lu) + enc_str(tag)
                           for ip, tag, vh, down, lu in hosts)
        self.send(STATE_HOSTS, gen, struct.pack("<I", len(hosts)) + entries, answered=False)
        t, _, g, b = self.request(STATE_COMMIT, gen)
        return reply(t, b, STATE_COMMIT) + (g,)

    def assign(self, user, tag=""):
        t, _, _, b = self.request(USER_ASSIGN, 0, enc_str(user) + enc_str(tag))
        status = reply(t, b, USER_ASSIGN)[0]
        if status != 0:
            raise ValueError("USER_ASSIGN %r: status %d" % (user, status))
        r = Reader(b[6:])
        result = r.take("<B")
        host = r.addr()
        expire = r.take("<I")
        return result, host, expire

    def lookup(self, user_hash, tag=""):
        t, _, _, b = self.request(USER_LOOKUP, 0, struct.pack("<I", user_hash) + enc_str(tag))
        if reply(t, b, USER_LOOKUP)[0] != 0:
            raise ValueError("USER_LOOKUP failed")
        r = Reader(b[6:])
        cur = r.addr()
        expire, flags = r.take("<IB")
        hashed = r.addr()
        return cur, expire, flags, hashed

    def host_list(self):
        reqid = self.send(HOST_LIST)
        hosts = []
        while True:
            t, flags, rid, _, b = self.recv()
            if t != HOST_LIST_PART or rid != reqid:
                raise ValueError("HOST_LIST answered by type %d id %d" % (t, rid))
            r = Reader(b)
            for _ in range(r.take("<I")):
                ip = r.addr()
                vhosts, down, lu, users, tag_index = r.take("<HBqIH")
                hosts.append({"ip": ip, "vhosts": vhosts, "down": down, "last_updown": lu,
                              "users": users, "tag_index": tag_index, "tag": r.string()})
            if flags & F_LAST:
                return hosts


def reply(t, body, req_type):
    """(status, reason) of a REPLY to req_type."""
    if t != REPLY:
        raise ValueError("expected REPLY, got type %d" % t)
    r = Reader(body)
    rt, status = r.take("<Hi")
    if rt != req_type:
        raise ValueError("REPLY for type %d, expected %d" % (rt, req_type))
    return status, (r.string() if status < 0 else "")


# ---- the test -----------------------------------------------------------------

STATE = [
    ("10.0.0.1", "", 100, 0, 0),
    ("10.0.0.2", "", 50, 0, 0),
    ("10.0.0.3", "", 100, 1, 1700000000),
    ("10.0.0.4", "", 100, 0, 0),
    ("10.0.0.5", "", 0, 0, 0),
    ("10.0.1.1", "tagA", 100, 0, 0),
    ("10.0.1.2", "tagA", 20, 0, 0),
]
SPEC = "10.0.0.1 10.0.0.2=50 10.0.0.3:down 10.0.0.4 10.0.0.5=0 10.0.1.1@tagA 10.0.1.2@tagA=20"
USERS = [b"user%d" % i for i in range(40)] + [b"Mixed.Case@Example.COM", b"testuser@domain"]
TAGGED = [b"tagged%d" % i for i in range(10)]


def start(dp, conf, log):
    return subprocess.Popen([dp, "-c", conf, "-d"], stdout=subprocess.DEVNULL, stderr=log)


def stop(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_bad_config(dp, tmp):
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as fp:
        fp.write("# a comment\ndirector_user_expire = 5 s\n")
    p = subprocess.run([dp, "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    check(p.returncode == 2, "bad config: exit status %d, want 2" % p.returncode)
    check(b"bad.conf:2: director_user_expire: must be at least 10 s" in p.stderr,
          "bad config: message %r" % p.stderr)


BULK = 80000  # answers and list parts well beyond the socket buffer and the low-water mark


def test_pipelined(fc, npins):
    """Pipeline BULK USER_ASSIGNs without reading, then read every answer:
    the data plane must queue what the socket does not take and lose
    nothing. Then a USER_LIST of all pins, read late: its parts wait for
    room (about 2.2 MB of them) and all arrive, in order, LAST on the last."""
    first = fc.reqid + 1
    for i in range(BULK):
        fc.send(USER_ASSIGN, 0, enc_str("bulk%d" % i) + enc_str(""))
    ids, new_pins = [], 0
    for _ in range(BULK):
        t, _, rid, _, b = fc.recv()
        # PINNED happens: among 80,000 names two may share a 32-bit hash.
        if t != REPLY or reply(t, b, USER_ASSIGN)[0] != 0 or b[6] > ASSIGN_HASHED:
            check(False, "pipelined USER_ASSIGN %d: type %d body %r" % (rid, t, b[:8]))
            return
        new_pins += b[6] == ASSIGN_HASHED
        ids.append(rid)
    check(ids == list(range(first, first + BULK)),
          "%d pipelined answers, in order, none lost" % BULK)
    reqid = fc.send(USER_LIST, 0, enc_addr(None))
    time.sleep(0.3)
    parts = entries = 0
    while True:
        t, flags, rid, _, b = fc.recv()
        if not check(t == USER_LIST_PART and rid == reqid,
                     "USER_LIST answered by type %d id %d" % (t, rid)):
            return
        parts += 1
        entries += struct.unpack_from("<I", b)[0]
        if flags & F_LAST:
            break
    check(entries == npins + new_pins and parts == -(-entries // 2339),
          "USER_LIST: %d entries in %d parts, want %d" % (entries, parts, npins + new_pins))


def test_sigint_ignored_by_parent(dp, tmp):
    """SIGINT ends the data plane even when it inherits SIGINT ignored, as a
    shell's background job does; also while postmux-control is absent."""
    conf = os.path.join(tmp, "nocontrol.conf")
    with open(conf, "w") as fp:
        fp.write("postmux_control_socket = %s\n" % os.path.join(tmp, "absent.sock"))
    proc = subprocess.Popen([dp, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        line = proc.stderr.readline()  # started: the signals are set up
        check(b"started" in line, "start-up line %r" % line)
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "exit status after SIGINT (inherited as ignored): %r" % rc)
    finally:
        stop(proc)
        proc.stderr.close()


def run(ctl, dp, tmp):
    path = os.path.join(tmp, "control.sock")
    conf = os.path.join(tmp, "postmux.conf")
    with open(conf, "w") as fp:
        fp.write("postmux_control_socket = %s\n" % path)
        fp.write("postmux_admin_socket = %s\n" % os.path.join(tmp, "admin.sock"))
        fp.write("postmux_state_file = %s\n" % os.path.join(tmp, "state"))
        fp.write("director_user_expire = 15 min\n")
    fc = FakeControl(path)
    fc.listen()
    logf = open(os.path.join(tmp, "dataplane.log"), "w+b")
    proc = start(dp, conf, logf)
    try:
        fc.accept(10)
        ack = fc.hello()
        info("HELLO_ACK %r" % ack)
        check(ack == {"pid": proc.pid, "version": 1, "has_pins": 0, "gen": 0},
              "first HELLO_ACK %r" % ack)
        status, reason, gen = fc.state(1, STATE)
        check(status == 0 and gen == 1, "state 1: status %d (%s), generation %d"
              % (status, reason, gen))

        # Placement equals postmuxctl ring's, per ring.
        want = pmtest.placements(ctl, SPEC, USERS)
        want_t = pmtest.placements(ctl, SPEC, TAGGED, ["--tag", "tagA"])
        if want is None or want_t is None:
            return
        pinned = {}
        for names, tag, expect in ((USERS, "", want), (TAGGED, "tagA", want_t)):
            for name, (h, backend) in zip(names, expect):
                res, host, expire = fc.assign(name, tag)
                check(res == ASSIGN_HASHED and host == backend and expire > 0,
                      "USER_ASSIGN %r@%r: result %d host %r, postmuxctl ring says %r"
                      % (name, tag, res, host, backend))
                pinned[(name, tag)] = (h, host)
        res, host, _ = fc.assign(USERS[0])
        check(res == ASSIGN_PINNED and host == want[0][1],
              "second USER_ASSIGN: result %d host %r" % (res, host))

        hosts = fc.host_list()
        by_ip = {h["ip"]: h for h in hosts}
        check([h["ip"] for h in hosts] == [s[0] for s in STATE],
              "HOST_LIST order %r" % [h["ip"] for h in hosts])
        check(by_ip["10.0.0.3"]["down"] == 1 and
              by_ip["10.0.0.3"]["last_updown"] == 1700000000,
              "HOST_LIST keeps the control side's last_updown: %r" % by_ip.get("10.0.0.3"))
        check(by_ip["10.0.1.1"]["tag"] == "tagA" and by_ip["10.0.1.1"]["tag_index"] > 0,
              "HOST_LIST tag: %r" % by_ip.get("10.0.1.1"))
        check(sum(h["users"] for h in hosts) == len(USERS) + len(TAGGED),
              "HOST_LIST user counts add up to %d" % (len(USERS) + len(TAGGED)))

        # postmux-control dies and comes back; the data plane reconnects.
        fc.go_away()
        time.sleep(0.5)
        check(proc.poll() is None, "the data plane survives the loss of control")
        fc.listen()
        t0 = time.monotonic()
        fc.accept(15)
        info("reconnected after %.2f s" % (time.monotonic() - t0))
        ack = fc.hello()
        check(ack["has_pins"] == 1 and ack["gen"] == 1 and ack["pid"] == proc.pid,
              "HELLO_ACK after reconnect %r" % ack)
        status, reason, gen = fc.state(2, STATE)
        check(status == 0 and gen == 2, "state 2: status %d (%s), generation %d"
              % (status, reason, gen))
        lost = []
        for (name, tag), (h, host) in pinned.items():
            cur, expire, flags, _ = fc.lookup(h, tag)
            if cur != host or expire == 0:
                lost.append((name, tag, host, cur))
        check(not lost, "pins kept across the reconnect; lost %r" % lost[:3])
        t, _, _, _ = fc.request(PING)
        check(t == PONG, "PING answered by PONG")
        test_pipelined(fc, len(pinned))

        # SIGTERM: a clean exit, quickly.
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "exit status after SIGTERM: %r" % rc)
    finally:
        stop(proc)
        logf.seek(0)
        LOG.extend(logf.read().decode(errors="replace").splitlines())
        logf.close()
    for text in ("connected to %s" % path, "state 1 applied: 7 hosts",
                 "postmux-control closed the connection", "state 2 applied",
                 "Terminated received; exiting"):
        check(any(text in line for line in LOG), "the log has a line with %r" % text)
    bad = [line for line in LOG if not (len(line) > 24 and line[4] == "-" and
                                        line[23] == "Z" and "postmux-dataplane[" in line)]
    check(not bad, "every log line has a timestamp and the program name: %r" % bad[:2])
    errors = [line for line in LOG if ": error:" in line]
    check(not errors, "no error lines: %r" % errors[:3])


LOG = []  # the data plane's stderr, printed when a check failed


def main():
    ctl = pmtest.ctl_from_argv()
    dp = os.environ.get("PM_DATAPLANE")
    if not dp or not os.access(dp, os.X_OK):
        skip("PM_DATAPLANE does not name the postmux-dataplane binary (%r)" % dp)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.close()
    except OSError as e:
        skip("AF_UNIX SOCK_SEQPACKET sockets are not available: %s" % e)
    with tempfile.TemporaryDirectory(prefix="pm-dp-") as tmp:
        test_bad_config(dp, tmp)
        test_sigint_ignored_by_parent(dp, tmp)
        try:
            run(ctl, dp, tmp)
        except (OSError, ValueError, EOFError, struct.error) as e:
            check(False, "protocol exchange failed: %r" % e)
    if pmtest.FAILURES and LOG:
        sys.stderr.write("---- postmux-dataplane log ----\n%s\n" % "\n".join(LOG))
    info(pmtest.summary())
    return pmtest.status()


if __name__ == "__main__":
    sys.exit(main())
