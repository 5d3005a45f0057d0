#!/usr/bin/env python3
"""postmuxctl's admin-socket verbs against a real Dovecot 2.3.19.1 director,
side by side with the real `doveadm director`.

Usage: test_postmuxctl_admin.py <path to postmuxctl>
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr).

Skips when not root or when the Dovecot binaries are missing.  The director
runs standalone in a private temporary directory (dovecot_lab.py) with
director_mail_servers = 10.0.0.1-10.0.0.5; those addresses are only names
in its ring, no traffic is sent to them.

Oracles:
  (a) `doveadm director <verb> -a <socket>` run against the same director
      in the same state: stdout byte for byte where postmuxctl promises
      doveadm's format (status <user>, map), stderr messages and exit
      statuses;
  (b) the director's state read back with raw admin commands (HOST-LIST,
      HOST-LIST-REMOVED, USER-LOOKUP, USER-LIST) after each postmuxctl verb;
  (c) for `status` without a user, the table layout documented in
      `postmuxctl --help`, rebuilt here from HOST-LIST;
  (d) fake admin servers (threads in this process) for what a healthy
      director never does: a wrong banner, a disconnect, an over-long
      line, no banner at all; one of them records whether postmuxctl ever
      sends a command before the previous reply (it must not).

Both programs run with the same fixed TZ, so their dates must agree.
"""

import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot_lab import (DOVEADM, AdminError, DirectorAdmin, DirectorLab,  # noqa: E402
                         LabError, missing_binaries, tabescape)
import pmtest  # noqa: E402
from pmtest import check, info, user_hash  # noqa: E402

SERVERS = "10.0.0.1-10.0.0.5"
CONFIGURED = ["10.0.0.%d" % i for i in range(1, 6)]
TZ = "PMT-3"  # POSIX TZ (UTC+3): no tzdata needed, and not UTC
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C", "TZ": TZ}
# Sanitizer builds: their settings reach postmuxctl.
BASE_ENV.update({k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")})

EX_USAGE, EX_NOHOST, EX_TEMPFAIL, EX_PROTOCOL = 64, 68, 75, 76


class Fatal(Exception):
    """Something that makes the rest of the test meaningless."""


class Ctx:
    def __init__(self, ctl, lab):
        self.ctl = ctl
        self.lab = lab
        self.sock = lab.admin_socket
        self.adm = lab.admin()

    def run(self, args, env=None, sock=True, timeout=60):
        """(rc, stdout bytes, stderr bytes) of postmuxctl [-a sock] args."""
        e = dict(BASE_ENV)
        e.update(env or {})
        argv = [self.ctl] + (["-a", self.sock] if sock else []) + list(args)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=e, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def dove(self, verb, args, pre=(), timeout=60):
        """(rc, stdout, stderr) of doveadm [pre] director <verb> -a sock args,
        with this lab's config and the same TZ."""
        e = dict(BASE_ENV)
        e["HOME"] = self.lab.dir
        argv = ([DOVEADM, "-c", self.lab.conf] + list(pre) + ["director", verb, "-a", self.sock]
                + list(args))
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=e, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def hosts(self):
        """HOST-LIST as {ip: (vhosts, users, tag, state)}."""
        return {h["ip"]: (h["vhosts"], h["users"], h["tag"], h["state"])
                for h in self.adm.host_list()}

    def removed(self):
        return [f[0] for f in self.adm.command_list("HOST-LIST-REMOVED")]

    def reset(self):
        """Back to the configured hosts, 100 vhosts, up, untagged, no users."""
        for h in self.adm.host_list():
            if h["ip"] not in CONFIGURED or h["tag"] != "":
                expect_ok(self.adm.command("HOST-REMOVE", h["ip"]), "reset remove " + h["ip"])
        for ip in CONFIGURED:
            expect_ok(self.adm.command("HOST-SET", ip, "100"), "reset set " + ip)
            expect_ok(self.adm.command("HOST-UP", ip), "reset up " + ip)
        expect_ok(self.adm.command("HOST-FLUSH"), "reset flush")
        if not check(self.removed() == [], "reset: HOST-LIST-REMOVED is empty"):
            raise Fatal("cannot reset the director")

    def pin(self, user, ip):
        expect_ok(self.adm.command("USER-MOVE", user, ip), "USER-MOVE %r %s" % (user, ip))


def expect_ok(reply, what):
    if reply != "OK":
        raise Fatal("%s: %r" % (what, reply))


def txt(b):
    return b.decode("utf-8", "replace")


def same(x, what, ctl_args, verb, dove_args, stdout=True, stderr=True, rc=None, pre=()):
    """Run postmuxctl <ctl_args> and doveadm director <verb> <dove_args>;
    check equal exit statuses (and rc if given), stdout and stderr.
    Returns postmuxctl's (rc, out, err)."""
    r1 = x.run(ctl_args)
    r2 = x.dove(verb, dove_args, pre=pre)
    check(r1[0] == r2[0], "%s: exit %d, doveadm %d (stderr %r / %r)"
          % (what, r1[0], r2[0], txt(r1[2]), txt(r2[2])))
    if rc is not None:
        check(r1[0] == rc, "%s: exit %d, want %d" % (what, r1[0], rc))
    if stdout:
        check(r1[1] == r2[1], "%s: stdout differs:\n--- postmuxctl\n%s--- doveadm\n%s"
              % (what, txt(r1[1]), txt(r2[1])))
    if stderr:
        check(r1[2] == r2[2], "%s: stderr %r, doveadm %r" % (what, txt(r1[2]), txt(r2[2])))
    return r1


def localtime(ts):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def resolve(name):
    """What doveadm's net_gethostbyname() gives: getaddrinfo SOCK_STREAM,
    every address in order (de-duplicated, as postmuxctl does)."""
    out = []
    for fam, _, _, _, sa in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM):
        if fam in (socket.AF_INET, socket.AF_INET6) and sa[0] not in out:
            out.append(sa[0])
    return out


# ---- 1. usage, errors and exit statuses, side by side ----------------------

def test_errors(x):
    x.reset()
    # NOTFOUND: 68 with doveadm's messages (spec 7.24), except update (75).
    same(x, "update unknown", ["update", "10.0.0.9", "5"], "update", ["10.0.0.9", "5"],
         rc=EX_TEMPFAIL)
    for verb in ("up", "down", "remove"):
        same(x, verb + " unknown", [verb, "10.0.0.9"], verb, ["10.0.0.9"], rc=EX_NOHOST)
    same(x, "flush unknown", ["flush", "10.0.0.9"], "flush", ["10.0.0.9"], rc=EX_NOHOST)
    same(x, "flush -F unknown", ["flush", "-F", "10.0.0.9"], "flush", ["-F", "10.0.0.9"],
         rc=EX_NOHOST)
    same(x, "flush --max-parallel unknown", ["flush", "--max-parallel", "4", "10.0.0.9"],
         "flush", ["--max-parallel", "4", "10.0.0.9"], rc=EX_NOHOST)
    same(x, "move to unknown", ["move", "user1", "10.0.0.9"], "move", ["user1", "10.0.0.9"],
         rc=EX_NOHOST)
    # A number is an IPv4 address to net_addr2ip(): 0.0.0.123, unknown.
    same(x, "up 123", ["up", "123"], "up", ["123"], rc=EX_NOHOST)
    # Error replies other than NOTFOUND: 75, "<ip>: <reply>".
    same(x, "add vhosts too large", ["add", "10.0.0.1", "5000"], "add", ["10.0.0.1", "5000"],
         rc=EX_TEMPFAIL)
    same(x, "add tag change", ["add", "10.0.0.2@foo", "50"], "add", ["10.0.0.2@foo", "50"],
         rc=EX_TEMPFAIL)
    same(x, "add -t tag change", ["add", "-t", "foo", "10.0.0.2"], "add",
         ["-t", "foo", "10.0.0.2"], rc=EX_TEMPFAIL)
    # Names that do not resolve: 75 and doveadm's message.
    same(x, "add unresolvable", ["add", "nosuchhost.invalid"], "add", ["nosuchhost.invalid"],
         rc=EX_TEMPFAIL)
    same(x, "down unresolvable", ["down", "nosuchhost.invalid"], "down",
         ["nosuchhost.invalid"], rc=EX_TEMPFAIL)
    # Usage errors: 64 (messages differ: each prints its own usage).
    for args in (["status", "a", "b", "c"], ["add"], ["update", "10.0.0.1"],
                 ["update", "10.0.0.1", "x"], ["add", "10.0.0.1", "x"], ["add", "123"],
                 ["up"], ["down"], ["remove"], ["flush"], ["move", "user1"], ["kick"],
                 ["map", "-u"], ["map", "-h"], ["add", "-x", "10.0.0.1"]):
        same(x, "usage %r" % args, args, args[0], args[1:], stdout=False, stderr=False,
             rc=EX_USAGE)
    check(x.hosts() == {ip: (100, 0, "", "U") for ip in CONFIGURED},
          "the error cases changed nothing")
    # The director unreachable: 75 for both.
    old = x.sock
    for bad in ("/nonexistent/director-admin", "/etc/passwd"):
        x.sock = bad
        r = same(x, "socket %s" % bad, ["status"], "status", [], stdout=False, stderr=False,
                 rc=EX_TEMPFAIL)
        check(bad.encode() in r[2], "socket %s: the message names it: %r" % (bad, r[2]))
    x.sock = old
    # postmuxctl-only: a bad --hash-format is 2, a bad --max-parallel 64.
    rc, _, err = x.run(["move", "--hash-format", "%X", "user1", "10.0.0.1"])
    check(rc == 2 and b"hash-format" in err, "bad --hash-format: %d %r" % (rc, err))
    for bad in ("x", "-1", "4294967296"):
        rc, _, err = x.run(["flush", "--max-parallel", bad, "all"])
        check(rc == EX_USAGE, "--max-parallel %s: exit %d %r" % (bad, rc, err))
    # Top level.
    for args, want in (([], EX_USAGE), (["frobnicate"], EX_USAGE), (["--help"], 0),
                       (["status", "--help"], 0), (["--bogus", "status"], EX_USAGE)):
        rc, out, err = x.run(args, sock=False)
        check(rc == want, "postmuxctl %r: exit %d, want %d" % (args, rc, want))
    rc, out, _ = x.run(["--help"], sock=False)
    check(b"backend   vhosts  users  state  tag  state changed" in out,
          "--help documents the status layout")


# ---- 2. status (the backend table) -----------------------------------------

def status_model(hosts):
    """The layout `postmuxctl --help` documents, from HOST-LIST dicts."""
    rows = [("backend", "vhosts", "users", "state", "tag", "state changed")]
    for h in hosts:
        tag = h["tag"] or "-"
        tag = "".join("?" if ord(c) < 0x20 or c == "\x7f" else c for c in tag)
        when = "-" if h["updown_ts"] <= 0 else localtime(h["updown_ts"])
        rows.append((h["ip"], str(h["vhosts"]), str(h["users"]), "up" if h["up"] else "down",
                     tag, when))
    width = [max(len(r[i]) for r in rows) for i in range(6)]
    out = []
    for r in rows:
        cells = [r[0].ljust(width[0]), r[1].rjust(width[1]), r[2].rjust(width[2]),
                 r[3].ljust(width[3]), r[4].ljust(width[4]), r[5]]
        out.append("  ".join(cells))
    return "".join(line + "\n" for line in out)


def test_status(x):
    x.reset()
    rc, out, err = x.run(["status"])
    check(rc == 0 and err == b"" and txt(out) == status_model(x.adm.host_list()),
          "status, fresh: %d %r\n%s" % (rc, err, txt(out)))
    # vhosts 0 and 1000, a down host (with a state-changed date), tags with
    # a space, UTF-8 and a TAB (escaped on the wire, '?' here), IPv6, users.
    for cmd in (("HOST-SET", "10.0.0.2", "0"), ("HOST-SET", "10.0.0.3", "1000"),
                ("HOST-DOWN", "10.0.0.4"), ("HOST-SET", "10.0.1.1@t a", "20"),
                ("HOST-SET", "10.0.1.2@tägß", "7"), ("HOST-SET", "10.0.1.3@x\ty", "1"),
                ("HOST-SET", "2001:db8::1", "50")):
        expect_ok(x.adm.command(*cmd), repr(cmd))
    for i in range(12):
        x.pin("st%d" % i, CONFIGURED[i % 3])
    hosts = x.adm.host_list()
    rc, out, err = x.run(["status"])
    want = status_model(hosts)
    check(rc == 0 and err == b"" and txt(out) == want,
          "status table: %d %r\n--- got\n%s--- want\n%s" % (rc, err, txt(out), want))
    check(any(h["updown_ts"] > 0 for h in hosts) and localtime(
        [h for h in hosts if h["ip"] == "10.0.0.4"][0]["updown_ts"]) in txt(out),
        "status shows the down host's state-changed date")
    # doveadm prints the same facts in its own table: compare cell by cell.
    rc2, out2, _ = x.dove("status", [])
    drows = [line.split() for line in txt(out2).splitlines()[1:]]
    prow = {h["ip"]: h for h in hosts}
    for d in drows:
        h = prow.get(d[0])
        if h is None or " " in h["tag"] or "\t" in h["tag"]:
            continue
        dcells = d[1:] if h["tag"] else [""] + d[1:]
        check(dcells[1] == str(h["vhosts"]) and dcells[2] == ("up" if h["up"] else "down")
              and dcells[-1] == str(h["users"]),
              "doveadm's status row %r agrees with HOST-LIST %r" % (d, h))
    check(rc2 == 0 and len(drows) == len(hosts), "doveadm status: %d rows" % len(drows))


# ---- 3. status <user> [<tag>] ----------------------------------------------

def test_status_user(x):
    x.reset()
    expect_ok(x.adm.command("HOST-SET", "10.0.1.1@tagA", "100"), "tagA host")
    x.pin("pinned1", "10.0.0.2")
    x.pin("Mixed@Case.COM", "10.0.0.4")
    x.pin("tagged1", "10.0.1.1")
    for args in (["user1"], ["user1", ""], ["user1", "tagA"], ["user1", "nosuchtag"],
                 ["pinned1"], ["PINNED1"], ["mixed@case.com"], ["tagged1", "tagA"],
                 ["tagged1"], ["617210206"], ["testuser@domain"], ["ÄÖÜ@Example.COM"]):
        rc, out, _ = same(x, "status %r" % args, ["status"] + args, "status", args, rc=0)
        cur, exp, hashed, initial = x.adm.user_lookup(args[0], args[1] if len(args) > 1 else "")
        want = ("Current: %s (expires %s)\n" % (cur, localtime(exp)) if cur
                else "Current: n/a (expires -1)\n")
        want += "Hashed: %s\nInitial config: %s\n" % (hashed, initial)
        check(txt(out) == want, "status %r: %r, USER-LOOKUP says %r" % (args, txt(out), want))
    # A TAB in a name is escaped (doveadm would send it raw and break the
    # command): the answer is the director's for that very name.
    rc, out, err = x.run(["status", "us\ter"])
    cur, exp, hashed, initial = x.adm.user_lookup("us\ter")
    check(rc == 0 and txt(out).splitlines()[1] == "Hashed: " + hashed,
          "status with a TAB in the name: %d %r %r, director %s" % (rc, out, err, hashed))
    check(hashed == pmtest.Ring(pmtest.parse_spec(SERVERS)).lookup(b"us\ter"),
          "the director hashed the unescaped name")


# ---- 4. add, update, up, down, remove ---------------------------------------

def test_host_verbs(x):
    x.reset()
    def run_ok(args):
        rc, out, err = x.run(args)
        check(rc == 0 and out == b"" and err == b"", "%r: %d %r %r" % (args, rc, out, err))

    run_ok(["add", "10.0.0.6"])
    check(x.hosts().get("10.0.0.6") == (100, 0, "", "U"), "add: new host with 100 vhosts")
    run_ok(["add", "10.0.0.6", "50"])
    check(x.hosts()["10.0.0.6"][0] == 50, "add with a count changes vhosts")
    run_ok(["add", "10.0.0.6"])
    check(x.hosts()["10.0.0.6"][0] == 50, "add without a count keeps vhosts")
    run_ok(["add", "-t", "tagA", "10.0.1.1", "20"])
    run_ok(["add", "10.0.1.2@tagA"])
    run_ok(["add", "-t", "", "10.0.1.3@tagB", "3"])   # -t "" means: none given
    run_ok(["add", "-t", "t a", "10.0.1.4"])
    h = x.hosts()
    check(h.get("10.0.1.1") == (20, 0, "tagA", "U")
          and h.get("10.0.1.2") == (100, 0, "tagA", "U")
          and h.get("10.0.1.3") == (3, 0, "tagB", "U")
          and h.get("10.0.1.4") == (100, 0, "t a", "U"), "tags: %r" % h)
    # IP literals go out canonical (net_addr2ip + net_ip2addr).
    run_ok(["add", "2001:DB8:0::0001", "5"])
    run_ok(["add", "[2001:db8::2]"])
    run_ok(["add", "010.0.0.7"])           # four decimal parts: 10.0.0.7
    run_ok(["add", "::FFFF:10.0.0.8"])
    h = x.hosts()
    for ip in ("2001:db8::1", "2001:db8::2", "10.0.0.7", "::ffff:10.0.0.8"):
        check(ip in h, "canonical %s in HOST-LIST %r" % (ip, sorted(h)))
    run_ok(["update", "10.0.0.6", "7"])
    check(x.hosts()["10.0.0.6"][0] == 7, "update sets vhosts")
    run_ok(["update", "10.0.1.1@tagA", "0"])
    check(x.hosts()["10.0.1.1"][0] == 0, "update host@tag")
    before = x.adm.host_list()
    t0 = int(time.time())
    run_ok(["down", "10.0.0.6"])
    hl = {d["ip"]: d for d in x.adm.host_list()}
    check(hl["10.0.0.6"]["state"] == "D" and hl["10.0.0.6"]["updown_ts"] >= t0,
          "down: %r" % hl["10.0.0.6"])
    run_ok(["down", "10.0.0.6"])   # already down: OK
    run_ok(["up", "10.0.0.6"])
    check(x.hosts()["10.0.0.6"][3] == "U", "up")
    run_ok(["remove", "10.0.0.6"])
    check("10.0.0.6" not in x.hosts(), "remove")
    run_ok(["remove", "10.0.0.5"])
    check("10.0.0.5" not in x.hosts() and x.removed() == ["10.0.0.5"],
          "remove of a configured host: HOST-LIST-REMOVED %r" % x.removed())
    check(len(before) == len(x.adm.host_list()) + 2, "two hosts fewer")
    # -a after the verb, and POSTMUX_ADMIN_SOCKET.
    rc, _, err = x.run(["add", "-a", x.sock, "10.0.0.5"], sock=False)
    check(rc == 0 and "10.0.0.5" in x.hosts(), "-a after the verb: %d %r" % (rc, err))
    rc, _, err = x.run(["update", "10.0.0.5", "42"], sock=False,
                       env={"POSTMUX_ADMIN_SOCKET": x.sock})
    check(rc == 0 and x.hosts()["10.0.0.5"][0] == 42, "POSTMUX_ADMIN_SOCKET: %d %r" % (rc, err))


def test_hostname(x):
    """A host name: one command per address (every address of getaddrinfo)."""
    x.reset()
    ips = resolve("localhost")
    if not check(len(ips) >= 1, "localhost resolves: %r" % ips):
        return
    info("localhost resolves to %s" % " ".join(ips))
    rc, out, err = x.run(["add", "localhost", "7"])
    h = x.hosts()
    check(rc == 0 and all(h.get(ip) == (7, 0, "", "U") for ip in ips),
          "add localhost 7: %d %r, HOST-LIST %r" % (rc, err, h))
    check(len(h) == len(CONFIGURED) + len(ips), "add localhost added exactly %r" % ips)
    same(x, "update localhost", ["update", "localhost", "9"], "update", ["localhost", "9"],
         rc=0)
    check(all(x.hosts()[ip][0] == 9 for ip in ips), "update localhost 9")
    rc, _, err = x.run(["down", "localhost"])
    check(rc == 0 and all(x.hosts()[ip][3] == "D" for ip in ips), "down localhost: %r" % err)
    # map with a host name filters on its addresses.
    x.pin("onlocal", ips[0])
    with tempfile.NamedTemporaryFile("w", suffix=".users") as f:
        f.write("onlocal\nuser1\n")
        f.flush()
        rc, out, _ = same(x, "map -f localhost", ["map", "-f", f.name, "localhost"], "map",
                          ["-f", f.name, "localhost"], rc=0)
        check(b"onlocal" in out, "map localhost lists the user pinned on %s" % ips[0])
    rc, _, err = x.run(["flush", "-F", "localhost"])
    check(rc == 0 and all(x.hosts()[ip][1] == 0 for ip in ips), "flush -F localhost: %r" % err)
    rc, _, err = x.run(["remove", "localhost"])
    check(rc == 0 and not any(ip in x.hosts() for ip in ips), "remove localhost: %r" % err)
    same(x, "remove localhost again", ["remove", "localhost"], "remove", ["localhost"],
         rc=EX_NOHOST)
    same(x, "flush localhost (gone)", ["flush", "localhost"], "flush", ["localhost"],
         rc=EX_NOHOST)


# ---- 5. flush ---------------------------------------------------------------

def test_flush(x):
    x.reset()
    ring = pmtest.Ring(pmtest.parse_spec(SERVERS))
    names = ["fl%d" % i for i in range(40)]
    for i, n in enumerate(names):
        x.pin(n, CONFIGURED[i % 2])          # on .1 and .2, whatever their hash says
    h = x.hosts()
    check(h["10.0.0.1"][1] == 20 and h["10.0.0.2"][1] == 20, "40 users pinned: %r" % h)
    rc, out, err = x.run(["flush", "-F", "10.0.0.1"])
    h = x.hosts()
    check(rc == 0 and out == b"" and err == b"" and h["10.0.0.1"][1] == 0
          and h["10.0.0.2"][1] == 20, "flush -F 10.0.0.1 zeroes its count: %d %r %r" % (rc, err, h))
    # flush (HOST-RESET-USERS): every user of .2 ends on its hash target.
    rc, out, err = x.run(["flush", "--max-parallel", "5", "10.0.0.2"])
    check(rc == 0 and err == b"", "flush --max-parallel 5 10.0.0.2: %d %r" % (rc, err))
    bad = []
    for n in names[1::2]:
        cur, _, hashed, _ = x.adm.user_lookup(n)
        if cur != hashed or hashed != ring.lookup(n.encode()):
            bad.append((n, cur, hashed))
    check(not bad, "after flush every user of .2 is on its hash target: %r" % bad[:3])
    # flush all (HOST-RESET-USERS with an empty IP field) and flush -F all.
    time.sleep(2.2)   # the moves above are in their kick delay
    for i, n in enumerate(names[:10]):
        x.pin(n, "10.0.0.5")
    rc, _, err = x.run(["flush", "--max-parallel", "3", "all"])
    check(rc == 0 and err == b"", "flush --max-parallel 3 all: %d %r" % (rc, err))
    moved = [n for n in names[:10] if x.adm.user_lookup(n)[0] == ring.lookup(n.encode())]
    check(len(moved) == 10, "flush all moved the users to their targets: %r" % moved)
    rc, _, err = x.run(["flush", "all"])
    check(rc == 0 and err == b"", "flush all: %d %r" % (rc, err))
    rc, _, err = x.run(["flush", "-F", "all"])
    check(rc == 0 and err == b"" and all(v[1] == 0 for v in x.hosts().values()),
          "flush -F all zeroes every count: %d %r %r" % (rc, err, x.hosts()))
    # doveadm agrees on the exit statuses.
    same(x, "flush -F all (doveadm)", ["flush", "-F", "all"], "flush", ["-F", "all"], rc=0)
    same(x, "flush 10.0.0.3 (doveadm)", ["flush", "10.0.0.3"], "flush", ["10.0.0.3"], rc=0)


# ---- 6. move, kick ------------------------------------------------------------

def test_move_kick(x):
    x.reset()
    rc, out, err = x.run(["move", "mover1", "10.0.0.4"])
    check(rc == 0 and out == b"" and err == b"", "move mover1: %d %r" % (rc, err))
    check(x.adm.user_lookup("mover1")[0] == "10.0.0.4", "move: USER-LOOKUP current")
    same(x, "status after move", ["status", "mover1"], "status", ["mover1"], rc=0)
    rc, out, _ = x.run(["status", "mover1"])
    check(out.startswith(b"Current: 10.0.0.4 (expires "), "status shows the new host: %r" % out)
    # USER-MOVE carries the hash computed here: the entry's hash.
    users = [f for f in x.adm.command_list("USER-LIST") if f[2] == "10.0.0.4"]
    check([f[0] for f in users] == [str(user_hash(b"mover1"))],
          "USER-LIST holds mover1's %%Lu hash: %r" % users)
    # A second move during the kick delay: TRYAGAIN, 75, doveadm's message.
    x.pin("mover2", "10.0.0.1")
    time.sleep(2.2)
    rc, _, err = x.run(["move", "mover2", "10.0.0.2"])
    check(rc == 0, "move mover2: %d %r" % (rc, err))
    same(x, "move during the kick delay", ["move", "mover2", "10.0.0.3"], "move",
         ["mover2", "10.0.0.3"], rc=EX_TEMPFAIL)
    rc, _, err = x.run(["move", "mover2", "10.0.0.3"])
    check(b"User is already being moved" in err, "TRYAGAIN message: %r" % err)
    # A host name: the first address. A numeric user is hashed too.
    rc, _, err = x.run(["add", "localhost"])
    rc, _, err = x.run(["move", "12345", "localhost"])
    first = resolve("localhost")[0]
    check(rc == 0 and x.adm.user_lookup(str(user_hash(b"12345")))[0] == first,
          "move 12345 localhost: %d %r" % (rc, err))
    # --hash-format: the director's director_username_hash if not %Lu.
    rc, _, err = x.run(["move", "--hash-format", "%Ln", "Alice@Example.COM", "10.0.0.5"])
    check(rc == 0 and x.adm.user_lookup("alice")[0] == "10.0.0.5",
          "move --hash-format %%Ln pins md5(alice): %d %r %r" % (rc, err,
                                                               x.adm.user_lookup("alice")))
    # kick: USER-KICK / USER-KICK-ALT, OK from a standalone director.
    same(x, "kick", ["kick", "user1"], "kick", ["user1"], rc=0)
    same(x, "kick -f", ["kick", "-f", "user_x", "someone"], "kick", ["-f", "user_x", "someone"],
         rc=0)
    rc, out, err = x.run(["kick", "a\tb"])
    check(rc == 0 and err == b"", "kick with a TAB (escaped): %d %r" % (rc, err))


# ---- 7. map -------------------------------------------------------------------

def test_map(x):
    x.reset()
    names = ["mapuser%d" % i for i in range(1, 131)]
    names[7] = "ÄÖÜ@Example.COM"
    names[20] = "user1"
    for i, n in enumerate(names):
        x.pin(n, CONFIGURED[i % 5])
    long_name = "l" * 60 + "@example.com"
    x.pin(long_name, "10.0.0.2")      # after row 100: the widths are fixed by then
    x.pin("notinfile", "10.0.0.3")
    x.pin("crlf-user", "10.0.0.4")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "users")
        with open(path, "wb") as f:
            # User1 and user1 share a hash: doveadm lists the later name first.
            f.write(b"".join(n.encode() + b"\n" for n in names + [long_name, "User1"]))
            f.write(b"crlf-user\r\n")
        same(x, "map -f", ["map", "-f", path], "map", ["-f", path], rc=0)
        r = same(x, "map -f 10.0.0.2", ["map", "-f", path, "10.0.0.2"], "map",
                 ["-f", path, "10.0.0.2"], rc=0)
        check(long_name.encode() in r[1], "map lists the long name")
        same(x, "map (no names)", ["map", "-f", os.devnull], "map", ["-f", os.devnull], rc=0)
        same(x, "map -u", ["map", "-u", "User1"], "map", ["-u", "User1"], rc=0)
        rc, out, _ = x.run(["map", "--hash-format", "%Ld", "-u", "a@Dom.example"])
        rc2, out2, _ = x.dove("map", ["-u", "a@Dom.example"],
                              pre=["-o", "director_username_hash=%Ld"])
        check(rc == rc2 == 0 and out == out2, "map -u --hash-format %%Ld: %r vs %r" % (out, out2))
        h1 = str(user_hash(b"user1"))
        same(x, "map -h", ["map", "-f", path, "-h", h1], "map", ["-f", path, "-h", h1], rc=0)
        same(x, "map -h (none)", ["map", "-f", path, "-h", "5"], "map", ["-f", path, "-h", "5"],
             rc=0)
        same(x, "map -h x", ["map", "-f", path, "-h", "x"], "map", ["-f", path, "-h", "x"],
             stdout=False, stderr=False, rc=EX_TEMPFAIL)
        # Shrinking: a name wider than the 80 columns.
        x.pin("w" * 90, "10.0.0.1")
        with open(path, "ab") as f:
            f.write(b"w" * 90 + b"\n")
        same(x, "map -f 10.0.0.1 (wide)", ["map", "-f", path, "10.0.0.1"], "map",
             ["-f", path, "10.0.0.1"], rc=0)
        # Without -f every name is <unknown> (doveadm would ask a userdb).
        rc, out, err = x.run(["map", "10.0.0.3"])
        rows = txt(out).splitlines()[1:]
        check(rc == 0 and rows and all(r.split()[0] == "<unknown>" for r in rows),
              "map without -f: %d %r" % (rc, rows[:2]))
        rc, _, err = x.run(["map", "-f", os.path.join(d, "missing")])
        check(rc == EX_TEMPFAIL and b"missing" in err, "map -f missing file: %d %r" % (rc, err))


# ---- 8. dump ------------------------------------------------------------------

def test_dump(x):
    x.reset()
    for cmd in (("HOST-SET", "10.0.0.2", "37"), ("HOST-DOWN", "10.0.0.3"),
                ("HOST-REMOVE", "10.0.0.5"), ("HOST-SET", "10.0.1.1@tagA", "20"),
                ("HOST-SET", "2001:db8::1", "0")):
        expect_ok(x.adm.command(*cmd), repr(cmd))
    rc, out, err = x.run(["dump"])
    check(rc == 0 and err == b"", "dump: %d %r" % (rc, err))
    ours = txt(out).splitlines()
    rc2, out2, _ = x.dove("dump", [])
    theirs = []
    for line in txt(out2).splitlines():
        m = re.match(r"^doveadm director (\w+) -a (\S+) (.*?) ?$", line)
        check(m is not None, "doveadm dump line %r" % line)
        if m:
            theirs.append("postmuxctl -a %s %s %s" % (m.group(2), m.group(1), m.group(3)))
    check([l for l in ours if " down " not in l] == theirs,
          "dump = doveadm's dump (plus down lines):\n%s\n---\n%s"
          % ("\n".join(ours), "\n".join(theirs)))
    check(["postmuxctl -a %s down 10.0.0.3" % x.sock] == [l for l in ours if " down " in l],
          "dump has a down line for 10.0.0.3: %r" % ours)
    # A tag that needs quoting; then replay the dump after changing things.
    expect_ok(x.adm.command("HOST-SET", "10.0.1.2@it's x", "5"), "quoted tag")
    rc, out, err = x.run(["dump"])
    want = sorted((h["ip"], h["vhosts"], h["tag"], h["state"]) for h in x.adm.host_list())
    want_removed = x.removed()
    for cmd in (("HOST-SET", "10.0.0.2", "100"), ("HOST-UP", "10.0.0.3"),
                ("HOST-REMOVE", "10.0.1.2"), ("HOST-REMOVE", "10.0.1.1"),
                ("HOST-DOWN", "10.0.0.1"), ("HOST-SET", "10.0.0.5", "9")):
        expect_ok(x.adm.command(*cmd), repr(cmd))
    expect_ok(x.adm.command("HOST-UP", "10.0.0.1"), "up .1 again")
    with tempfile.TemporaryDirectory() as d:
        os.symlink(os.path.abspath(x.ctl), os.path.join(d, "postmuxctl"))
        env = dict(BASE_ENV)
        env["PATH"] = d + ":" + env["PATH"]
        p = subprocess.run(["/bin/sh", "-e"], input=out, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=60)
    got = sorted((h["ip"], h["vhosts"], h["tag"], h["state"]) for h in x.adm.host_list())
    check(p.returncode == 0 and got == want and x.removed() == want_removed,
          "replaying the dump restores the state: %d %r\n%r\n%r" % (p.returncode, p.stderr,
                                                                     got, want))


# ---- 9. the client itself, against fake servers ---------------------------

class FakeServer:
    """A director-admin look-alike on a UNIX socket (or TCP).

    banner: bytes sent on connect (None: nothing, ever).
    replies: {command name: bytes}; a missing command gets b"OK\\n";
    the value None closes the connection instead.
    Every command is answered after a 0.2 s pause; a command that arrives
    while an answer is pending is recorded in self.pipelined."""

    def __init__(self, path, banner=b"VERSION\tdirector-doveadm\t1\t0\n", replies=None):
        self.path = path
        self.banner = banner
        self.replies = replies or {}
        self.lines = []
        self.pipelined = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            if self.banner is None:
                time.sleep(7)
                return
            c.sendall(self.banner)
            buf = b""
            while True:
                while b"\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                line, buf = buf.split(b"\n", 1)
                self.lines.append(line)
                if line.startswith(b"VERSION\t"):
                    continue
                time.sleep(0.2)
                if buf or select.select([c], [], [], 0)[0]:
                    self.pipelined.append(line)
                r = self.replies.get(line.split(b"\t")[0].decode(), b"OK\n")
                if r is None:
                    return
                c.sendall(r)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stop = True
        self.sock.close()


def tcp_forwarder(unix_path):
    """A 127.0.0.1 TCP port that forwards every connection to unix_path."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)

    def pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            try:
                b.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def loop():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            u.connect(unix_path)
            threading.Thread(target=pump, args=(c, u), daemon=True).start()
            threading.Thread(target=pump, args=(u, c), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return ls


def test_client(x):
    x.reset()
    with tempfile.TemporaryDirectory() as d:
        # One command at a time: dump sends HOST-LIST and HOST-LIST-REMOVED.
        f = FakeServer(os.path.join(d, "ok"), replies={
            "HOST-LIST": b"10.0.0.1\t100\t3\t\tU\t0\n10.0.0.2\t5\t0\ta\x01tb\tD\t1795896423\n\n",
            "HOST-LIST-REMOVED": b"10.0.0.9\n\n"})
        x.sock = f.path
        rc, out, err = x.run(["dump"])
        check(rc == 0 and f.pipelined == [] and
              [l for l in f.lines if not l.startswith(b"VERSION")] ==
              [b"HOST-LIST", b"HOST-LIST-REMOVED"],
              "dump: one command at a time: %d %r %r %r" % (rc, err, f.lines, f.pipelined))
        check(f.lines[:1] == [b"VERSION\tdirector-doveadm\t1\t0"], "handshake line %r" % f.lines)
        check(shlex.split(txt(out).splitlines()[1]) ==
              ["postmuxctl", "-a", f.path, "add", "10.0.0.2@a\tb", "5"],
              "dump quotes a tag with a TAB: %r" % out)
        rc, out, err = x.run(["status"])
        check(rc == 0 and "10.0.0.2  " in txt(out) and "a?b" in txt(out),
              "status from the fake: %r" % out)
        f.lines.clear()
        rc, out, err = x.run(["kick", "-f", "user\tx", "a\x01b"])
        check(rc == 0 and f.lines[1:] == [b"USER-KICK-ALT\tuser\x01tx\ta\x011b"],
              "kick -f escapes both fields: %r" % f.lines)
        f.lines.clear()
        rc, out, err = x.run(["flush", "--max-parallel", "7", "all"])
        check(rc == 0 and f.lines[1:] == [b"HOST-RESET-USERS\t\t7"], "flush all: %r" % f.lines)
        f.lines.clear()
        x.run(["flush", "-F", "--max-parallel", "7", "10.0.0.1"])
        x.run(["flush", "--max-parallel", "0", "10.0.0.1"])
        x.run(["status", "u", "t\tg"])
        x.run(["add", "-t", "x", "010.0.0.1", "0100"])
        check(f.lines[1::2] == [b"HOST-FLUSH\t10.0.0.1", b"HOST-RESET-USERS\t10.0.0.1",
                                b"USER-LOOKUP\tu\tt\x01tg", b"HOST-SET\t10.0.0.1@x\t100"],
              "wire lines: %r" % f.lines)
        f.close()
        # Error replies of the other verbs.
        f = FakeServer(os.path.join(d, "err"), replies={
            "USER-KICK": b"TRYAGAIN\n", "HOST-RESET-USERS": b"weird\n", "USER-LOOKUP": b"x\n",
            "USER-LIST": b"bad line\n617210206\t1795906540\t10.0.0.1\n\n",
            "HOST-LIST": b"garbage\n\n"})
        x.sock = f.path
        for args, want, msg in ((["kick", "u"], EX_TEMPFAIL, b"Error: failed: TRYAGAIN\n"),
                                (["flush", "all"], EX_TEMPFAIL, b"Error: failed: weird\n"),
                                (["flush", "10.0.0.1"], EX_TEMPFAIL,
                                 b"Warning: 10.0.0.1: weird\n"),
                                (["status", "u"], EX_PROTOCOL,
                                 b"Error: Invalid reply from director\n"),
                                (["map"], EX_PROTOCOL,
                                 b"Error: Invalid USER-LIST reply: bad line\n"),
                                (["status"], EX_PROTOCOL,
                                 b"Error: Invalid HOST-LIST reply: garbage\n")):
            rc, out, err = x.run(args)
            check(rc == want and err == msg, "%r: %d %r" % (args, rc, err))
        rc, out, _ = x.run(["map"])
        check(b"617210206" in out, "map goes on after a bad line: %r" % out)
        f.close()
        # A disconnect instead of a reply; a wrong banner; an over-long line.
        f = FakeServer(os.path.join(d, "close"), replies={"HOST-UP": None,
                                                           "HOST-LIST": b"x" * 70000 + b"\n"})
        x.sock = f.path
        rc, _, err = x.run(["up", "10.0.0.1"])
        check(rc == EX_TEMPFAIL and b"unexpectedly disconnected" in err,
              "disconnect: %d %r" % (rc, err))
        rc, _, err = x.run(["status"])
        check(rc == EX_PROTOCOL and b"longer than" in err, "long line: %d %r" % (rc, err))
        f.close()
        f = FakeServer(os.path.join(d, "banner"), banner=b"VERSION\tdirector-doveadm\t2\t0\n")
        x.sock = f.path
        r = same(x, "wrong banner", ["status"], "status", [], stdout=False, stderr=False,
                 rc=EX_PROTOCOL)
        check(b"not a compatible director-doveadm socket" in r[2], "banner: %r" % r[2])
        f.close()
        f = FakeServer(os.path.join(d, "mute"), banner=None)
        x.sock = f.path
        t0 = time.monotonic()
        rc, _, err = x.run(["status"])
        check(rc == EX_TEMPFAIL and b"timed out" in err and 4 < time.monotonic() - t0 < 7,
              "no banner: %d %r after %.1f s" % (rc, err, time.monotonic() - t0))
        f.close()
    # -a host:port (TCP), as doveadm.
    x.sock = x.lab.admin_socket
    ls = tcp_forwarder(x.lab.admin_socket)
    try:
        port = ls.getsockname()[1]
        r1 = x.run(["status", "user1"])
        old, x.sock = x.sock, "127.0.0.1:%d" % port
        r2 = x.run(["status", "user1"])
        # A name: its first address (as doveadm); the forwarder is IPv4.
        lh = resolve("localhost")
        x.sock = ("localhost:%d" if lh[:1] == ["127.0.0.1"] else "[127.0.0.1]:%d") % port
        r3 = x.run(["status"])
        x.sock = old
        check(r1 == r2 and r1[0] == 0 and r3[0] == 0 and b"10.0.0.1" in r3[1],
              "-a 127.0.0.1:port: %r %r %r" % (r1, r2, r3[:1]))
    finally:
        ls.close()
        x.sock = x.lab.admin_socket


def main():
    ctl = pmtest.ctl_from_argv()
    if os.geteuid() != 0:
        pmtest.skip("needs root to run a Dovecot director")
    miss = missing_binaries()
    if miss:
        pmtest.skip("Dovecot binaries missing: %s (package dovecot-core)" % " ".join(miss))
    os.environ["TZ"] = TZ
    time.tzset()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    t0 = time.monotonic()
    tests = [test_errors, test_status, test_status_user, test_host_verbs, test_hostname,
             test_flush, test_move_kick, test_map, test_dump, test_client]
    try:
        with DirectorLab(SERVERS) as lab:
            x = Ctx(ctl, lab)
            for t in tests:
                info("%s ..." % t.__name__)
                try:
                    t(x)
                except (Fatal, AdminError, OSError, subprocess.SubprocessError) as e:
                    check(False, "%s: %s: %s" % (t.__name__, type(e).__name__, e))
                    x.adm.close()
                    x.adm = lab.admin()
                    x.sock = lab.admin_socket
            x.adm.close()
    except LabError as e:
        sys.stderr.write("FAIL: %s\n%s\n" % (e, e.log))
        return 1
    except Exception:
        traceback.print_exc()
        check(False, "unexpected exception")
    info("%s; %.1f s" % (pmtest.summary(), time.monotonic() - t0))
    return pmtest.status()


if __name__ == "__main__":
    sys.exit(main())
