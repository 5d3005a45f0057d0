#!/usr/bin/env python3
"""A small SMTP server that keeps every message it is given, for the lab.

Usage: smtp_sink.py [--pidfile F] ADDR:PORT=DIR [ADDR:PORT=DIR ...]
Listens on each ADDR:PORT (the lab's Dovecot backends relay their
Submission mail there: submission_relay_host) and stores each message it
accepts in that listener's DIR: <n>.eml holds the message exactly as it
arrived, dot-stuffing undone (RFC 5321 4.5.2), CRLFs kept; <n>.env the
envelope, one line each: the client's HELO/EHLO argument, then "MAIL <path>"
and "RCPT <path>" per recipient. Both files are written under a temporary
name and renamed, .env last, so a reader that sees <n>.env sees the whole
message. n counts from 1 per DIR.
Runs until SIGTERM or SIGINT (exit status 0); exit status 1 when a listener
cannot be made (the reason on stderr).

Standard library only (Debian 12's Python 3.11 has no smtpd/aiosmtpd
worth depending on): one thread per listener and per connection. It
speaks just what a relaying MTA client (Dovecot's lib-smtp) needs: EHLO
(8BITMIME, ENHANCEDSTATUSCODES, SIZE, PIPELINING; no CHUNKING, no XCLIENT, no AUTH), HELO, MAIL,
RCPT, DATA, RSET, NOOP, QUIT. Command lines longer than 4096 bytes get 500.
"""

import os
import signal
import socket
import sys
import threading

NAME = "sink.lab"
LINE_MAX = 4096


class Box:
    """One listener's directory and its message counter."""

    def __init__(self, d):
        self.dir = d
        self.lock = threading.Lock()
        self.n = 0
        os.makedirs(d, exist_ok=True)

    def store(self, helo, mail, rcpts, data):
        with self.lock:
            self.n += 1
            n = self.n
        base = os.path.join(self.dir, "%d" % n)
        with open(base + ".eml.tmp", "wb") as fp:
            fp.write(data)
        os.rename(base + ".eml.tmp", base + ".eml")
        env = "\n".join([helo, "MAIL " + mail] + ["RCPT " + r for r in rcpts]) + "\n"
        with open(base + ".env.tmp", "w") as fp:
            fp.write(env)
        os.rename(base + ".env.tmp", base + ".env")
        return n


def session(conn, box):
    f = conn.makefile("rb")

    def say(text):
        conn.sendall(text.encode() + b"\r\n")

    say("220 %s ESMTP sink" % NAME)
    helo, mail, rcpts = "", None, []
    while True:
        line = f.readline(LINE_MAX + 1)
        if not line:
            return
        if len(line) > LINE_MAX:
            say("500 5.5.2 Line too long")
            while line and not line.endswith(b"\n"):
                line = f.readline(LINE_MAX + 1)
            continue
        text = line.rstrip(b"\r\n").decode("utf-8", "replace")
        verb, _, arg = text.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            helo, mail, rcpts = arg, None, []
            say("250-%s\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE\r\n"
                "250 PIPELINING" % NAME)
        elif verb == "HELO":
            helo, mail, rcpts = arg, None, []
            say("250 %s" % NAME)
        elif verb == "MAIL":
            if mail is not None:
                say("503 5.5.1 MAIL already given")
            elif not arg.upper().startswith("FROM:"):
                say("501 5.5.4 Syntax: MAIL FROM:<address>")
            else:
                mail = arg[5:].strip()
                say("250 2.1.0 OK")
        elif verb == "RCPT":
            if mail is None:
                say("503 5.5.1 MAIL first")
            elif not arg.upper().startswith("TO:"):
                say("501 5.5.4 Syntax: RCPT TO:<address>")
            else:
                rcpts.append(arg[3:].strip())
                say("250 2.1.5 OK")
        elif verb == "DATA":
            if mail is None or not rcpts:
                say("503 5.5.1 MAIL and RCPT first")
                continue
            say("354 End data with <CR><LF>.<CR><LF>")
            parts = []
            while True:
                dl = f.readline()
                if not dl:
                    return
                if dl == b".\r\n" or dl == b".\n":
                    break
                if dl.startswith(b"."):
                    dl = dl[1:]
                parts.append(dl)
            n = box.store(helo, mail, rcpts, b"".join(parts))
            say("250 2.0.0 OK queued as %d" % n)
            mail, rcpts = None, []
        elif verb == "RSET":
            mail, rcpts = None, []
            say("250 2.0.0 OK")
        elif verb == "NOOP":
            say("250 2.0.0 OK")
        elif verb == "QUIT":
            say("221 2.0.0 Bye")
            return
        else:
            say("500 5.5.1 Unknown command")


def serve_conn(conn, box):
    try:
        session(conn, box)
    except OSError:
        pass
    finally:
        conn.close()


def serve(lsock, box):
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve_conn, args=(conn, box), daemon=True).start()


def main():
    args = sys.argv[1:]
    pidfile = None
    if args[:1] == ["--pidfile"] and len(args) >= 2:
        pidfile, args = args[1], args[2:]
    if not args:
        sys.stderr.write("usage: smtp_sink.py [--pidfile F] ADDR:PORT=DIR ...\n")
        return 2
    socks = []
    for spec in args:
        try:
            hostport, d = spec.split("=", 1)
            host, port = hostport.rsplit(":", 1)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, int(port)))
            s.listen(128)
        except (ValueError, OSError) as e:
            sys.stderr.write("smtp_sink: %s: %s\n" % (spec, e))
            return 1
        socks.append((s, Box(d)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for s, box in socks:
        threading.Thread(target=serve, args=(s, box), daemon=True).start()
    if pidfile:
        with open(pidfile + ".tmp", "w") as fp:
            fp.write("%d\n" % os.getpid())
        os.rename(pidfile + ".tmp", pidfile)
    sys.stdout.write("listening\n")
    sys.stdout.flush()
    stop.wait()
    if pidfile:
        try:
            os.unlink(pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
