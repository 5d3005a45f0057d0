#!/usr/bin/env python3
"""The real-traffic demo's mail clients (scripts/demo, tests/integration/demo.py).

Runs inside a lab namespace (`ip netns exec <ns> demo_clients.py ...`).
Standard library only. Every user logs in with the password "pass".

  demo_clients.py run --users FILE --imap ADDR:PORT --pop3 ADDR:PORT --log FILE
                      [--logins N]
      Keeps one connection per user of FILE ("user<TAB>imap|pop3" lines)
      open: connect, log in, learn the backend, then wait. A connection that
      ends (a kick: EOF or RST) is counted, logged and made again at once,
      and the new login says where the user landed now. Failed attempts are
      retried after 0.5 s. At most N logins (default 40) are in progress at
      once. Commands on stdin, one a line, each answered with one line on
      stdout:
        state   {"users": {user: [proto, backend, connected, logins, closes,
                 failures]}}   (JSON; backend "" until the first login)
        probe   the same, after every connected session has sent a NOOP
                 through the splice; adds "probe": {user: "ok" | reason}
        quit    closes every connection (LOGOUT / QUIT), answers "bye", exits
      The log has one line per event: time, user, what happened.
  demo_clients.py check --imap-port P --pop3-port P ADDR:PROTO:USER ...
      Logs each USER in directly at ADDR (no proxy) and prints
      "ADDR PROTO USER BACKEND" (or "... ? <error>"): how the demo learns
      the backend, checked against backends whose names are known.
  demo_clients.py deliver --backend ADDR NAME [--backend ...] USER ...
      Delivers, over LMTP to each ADDR:24 (at once), one message with the
      header "X-Postmux-Demo-Backend: NAME" to each USER's INBOX there.

How a session learns its backend:
- IMAP: after LOGIN, `ID NIL`; the backend's `* ID` reply carries
  "x-backend" "backend-K" (backend_lab.py sets imap_id_send).
- POP3: Dovecot's POP3 says nothing about itself after login, so every POP3
  user gets, on every backend, one message naming that backend (deliver);
  after USER/PASS, `TOP 1 0` reads its header.
"""

import argparse
import asyncio
import concurrent.futures
import json
import re
import smtplib
import sys
import time

PASSWORD = "pass"
HEADER = "X-Postmux-Demo-Backend"
LOGIN_TIMEOUT = 40.0	# the proxy may hold a login for a kick delay and retry
CONNECT_TIMEOUT = 10.0
RETRY_DELAY = 0.5
PROBE_TIMEOUT = 10.0


class LoginError(Exception):
    pass


def hostport(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


# ---- the two login dialogues (sans proxy knowledge: as any client) -------

async def _line(reader):
    line = await reader.readline()
    if not line:
        raise LoginError("connection closed")
    return line


async def _tagged(reader, tag):
    """Untagged lines until the line tagged @tag; returns (untagged, tagged)."""
    untagged = []
    while True:
        line = await _line(reader)
        if line.startswith(tag + b" "):
            return untagged, line
        untagged.append(line)


def _short(line):
    return line.decode("utf-8", "replace").strip()[:120]


async def imap_login(reader, writer, user):
    greeting = await _line(reader)
    if not greeting.startswith(b"* OK"):
        raise LoginError("greeting %r" % _short(greeting))
    writer.write(b"a LOGIN %s %s\r\n" % (user.encode(), PASSWORD.encode()))
    _, line = await _tagged(reader, b"a")
    if not line.startswith(b"a OK"):
        raise LoginError("LOGIN: %s" % _short(line))
    writer.write(b"b ID NIL\r\n")
    untagged, line = await _tagged(reader, b"b")
    if not line.startswith(b"b OK"):
        raise LoginError("ID: %s" % _short(line))
    for u in untagged:
        m = re.search(rb'"x-backend" "([^"]*)"', u)
        if u.startswith(b"* ID ") and m:
            return m.group(1).decode()
    raise LoginError("no x-backend in the ID reply: %r" % [_short(u) for u in untagged])


async def pop3_login(reader, writer, user):
    greeting = await _line(reader)
    if not greeting.startswith(b"+OK"):
        raise LoginError("greeting %r" % _short(greeting))
    for cmd in (b"USER " + user.encode(), b"PASS " + PASSWORD.encode()):
        writer.write(cmd + b"\r\n")
        line = await _line(reader)
        if not line.startswith(b"+OK"):
            raise LoginError("%s: %s" % (cmd.split()[0].decode(), _short(line)))
    writer.write(b"TOP 1 0\r\n")
    line = await _line(reader)
    if not line.startswith(b"+OK"):
        raise LoginError("TOP 1 0: %s (no message naming the backend?)" % _short(line))
    backend = None
    while True:
        line = await _line(reader)
        if line in (b".\r\n", b".\n"):
            break
        m = re.match(rb"(?i)" + HEADER.encode() + rb":\s*(\S+)", line)
        if m:
            backend = m.group(1).decode()
    if backend is None:
        raise LoginError("message 1 has no %s header" % HEADER)
    return backend


LOGIN = {"imap": imap_login, "pop3": pop3_login}
NOOP = {"imap": b"p NOOP\r\n", "pop3": b"NOOP\r\n"}
LOGOUT = {"imap": b"z LOGOUT\r\n", "pop3": b"QUIT\r\n"}


def noop_reply(proto, line):
    """None if @line does not answer our NOOP, else True (OK) or False."""
    if proto == "imap":
        if not line.startswith(b"p "):
            return None
        return line.startswith(b"p OK")
    if line.startswith(b"+OK"):
        return True
    if line.startswith(b"-ERR"):
        return False
    return None


# ---- the run command ------------------------------------------------------

class Log:
    def __init__(self, path):
        self.fp = open(path, "a", buffering=1)
        self.t0 = time.monotonic()

    def __call__(self, user, msg):
        self.fp.write("%9.3f %-10s %s\n" % (time.monotonic() - self.t0, user, msg))


class Client:
    """One user's connection, made again whenever it ends."""

    def __init__(self, user, proto, target, log):
        self.user, self.proto, self.target, self.log = user, proto, target, log
        self.backend = ""
        self.connected = False
        self.logins = self.closes = self.failures = 0
        self.writer = None
        self.probes = asyncio.Queue()

    def row(self):
        return [self.proto, self.backend, int(self.connected), self.logins, self.closes,
                self.failures]

    async def run(self, logins):
        while True:
            writer = None
            try:
                async with logins:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(*self.target), CONNECT_TIMEOUT)
                    backend = await asyncio.wait_for(
                        LOGIN[self.proto](reader, writer, self.user), LOGIN_TIMEOUT)
            except (OSError, asyncio.TimeoutError, LoginError) as e:
                self.failures += 1
                self.log(self.user, "%s login failed: %s" % (self.proto, _reason(e)))
                if writer is not None:
                    writer.close()
                await asyncio.sleep(RETRY_DELAY)
                continue
            self.backend, self.connected, self.writer = backend, True, writer
            self.logins += 1
            self.log(self.user, "%s logged in on %s" % (self.proto, backend))
            how = await self.hold(reader, writer)
            self.connected, self.writer = False, None
            self.closes += 1
            self.log(self.user, "%s session on %s closed: %s" % (self.proto, backend, how))
            writer.close()

    async def hold(self, reader, writer):
        """Wait until the session ends; meanwhile send the NOOPs asked for.
        Returns how it ended."""
        pending = []
        read = asyncio.ensure_future(reader.readline())
        req = None
        try:
            while True:
                if req is None:
                    req = asyncio.ensure_future(self.probes.get())
                done, _ = await asyncio.wait({read, req},
                                             return_when=asyncio.FIRST_COMPLETED)
                if req in done:
                    pending.append(req.result())
                    req = None
                    writer.write(NOOP[self.proto])
                if read in done:
                    line = read.result()
                    if not line:
                        return "EOF"
                    ok = noop_reply(self.proto, line) if pending else None
                    if ok is None:
                        self.log(self.user, "unsolicited: %s" % _short(line))
                    else:
                        pending.pop(0).set_result("ok" if ok else _short(line))
                    read = asyncio.ensure_future(reader.readline())
        except OSError as e:
            return _reason(e)
        finally:
            read.cancel()
            if req is not None:
                req.cancel()
            for f in pending:
                if not f.done():
                    f.set_result("session closed")

    async def probe(self):
        if not self.connected:
            return "not connected"
        fut = asyncio.get_running_loop().create_future()
        await self.probes.put(fut)
        try:
            return await asyncio.wait_for(fut, PROBE_TIMEOUT)
        except asyncio.TimeoutError:
            return "no answer to NOOP in %.0f s" % PROBE_TIMEOUT

    async def quit(self):
        if self.writer is not None:
            try:
                self.writer.write(LOGOUT[self.proto])
                await asyncio.wait_for(self.writer.drain(), 2)
            except (OSError, asyncio.TimeoutError):
                pass
            self.writer.close()


def _reason(e):
    if isinstance(e, ConnectionResetError):
        return "RST"
    if isinstance(e, asyncio.TimeoutError):
        return "timeout"
    return "%s: %s" % (type(e).__name__, e)


async def run(args):
    log = Log(args.log)
    targets = {"imap": hostport(args.imap), "pop3": hostport(args.pop3)}
    clients = []
    with open(args.users) as fp:
        for line in fp:
            f = line.split()
            if len(f) == 2:
                clients.append(Client(f[0], f[1], targets[f[1]], log))
    logins = asyncio.Semaphore(args.logins)
    tasks = [asyncio.ensure_future(c.run(logins)) for c in clients]
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    log("-", "%d clients started" % len(clients))
    while True:
        cmd = (await stdin.readline()).decode().strip()
        if cmd in ("", "quit"):
            break
        out = {}
        if cmd == "probe":
            res = await asyncio.gather(*(c.probe() for c in clients))
            out["probe"] = {c.user: r for c, r in zip(clients, res)}
            for c, r in zip(clients, res):
                if r != "ok":
                    log(c.user, "probe: %s" % r)
        out["users"] = {c.user: c.row() for c in clients}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(c.quit() for c in clients))
    log("-", "quit")
    sys.stdout.write("bye\n")
    sys.stdout.flush()


# ---- check and deliver ----------------------------------------------------

async def check(args):
    rc = 0
    for spec in args.sessions:
        addr, proto, user = spec.split(":")
        port = args.imap_port if proto == "imap" else args.pop3_port
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(addr, port),
                                                    CONNECT_TIMEOUT)
            backend = await asyncio.wait_for(LOGIN[proto](reader, writer, user),
                                             LOGIN_TIMEOUT)
            writer.write(LOGOUT[proto])
            writer.close()
            print(addr, proto, user, backend)
        except (OSError, asyncio.TimeoutError, LoginError) as e:
            print(addr, proto, user, "?", _reason(e))
            rc = 1
    return rc


def deliver_one(addr, name, users):
    msg = ("From: demo@example.org\r\n"
           "To: demo@example.org\r\n"
           "Subject: where is this mailbox?\r\n"
           "%s: %s\r\n"
           "\r\n"
           "This copy of the mailbox is on %s.\r\n" % (HEADER, name, name))
    try:
        lmtp = smtplib.LMTP(addr, 24, timeout=60)
        try:
            refused = lmtp.sendmail("demo@example.org", users, msg)
        finally:
            lmtp.quit()
    except (OSError, smtplib.SMTPException) as e:
        return "%s: %s" % (addr, e)
    return "%s: refused %r" % (addr, refused) if refused else None


def deliver(args):
    """One LMTP transaction per backend, all backends at once."""
    with concurrent.futures.ThreadPoolExecutor(len(args.backend)) as ex:
        errors = [e for e in ex.map(lambda b: deliver_one(b[0], b[1], args.users),
                                    args.backend) if e]
    for e in errors:
        print(e)
    if errors:
        return 1
    print("delivered to %d users on %d backends" % (len(args.users), len(args.backend)))
    return 0


def main():
    ap = argparse.ArgumentParser(description="the demo's mail clients")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--users", required=True)
    r.add_argument("--imap", required=True)
    r.add_argument("--pop3", required=True)
    r.add_argument("--log", required=True)
    r.add_argument("--logins", type=int, default=40)
    c = sub.add_parser("check")
    c.add_argument("--imap-port", type=int, default=143)
    c.add_argument("--pop3-port", type=int, default=110)
    c.add_argument("sessions", nargs="+")
    d = sub.add_parser("deliver")
    d.add_argument("--backend", nargs=2, action="append", required=True,
                   metavar=("ADDR", "NAME"))
    d.add_argument("users", nargs="+")
    args = ap.parse_args()
    if args.cmd == "run":
        asyncio.run(run(args))
        return 0
    if args.cmd == "check":
        return asyncio.run(check(args))
    return deliver(args)


if __name__ == "__main__":
    sys.exit(main())
