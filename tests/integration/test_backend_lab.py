#!/usr/bin/env python3
"""The Dovecot backend lab (backend_lab.py) that the proxy tests build on.

Usage: test_backend_lab.py <path to postmuxctl>   (the argument is ignored)
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr): not root, no
       Dovecot binaries, or the namespace lab cannot be made.

With scripts/netns-lab --prefix k<pid % 10000> --backends 5, five Dovecot
instances at 198.51.100.1-5 in the backend namespace; from inside it, for
each: the IMAP greeting names it, LOGIN with the lab password works and the
ID reply names it, a wrong password gets NO [AUTHENTICATIONFAILED], POP3
USER/PASS works, LMTP answers LHLO, and (with dovecot-submissiond)
Submission (smtplib) logs in, its EHLO names the backend (backend-K.lab)
and a message it relays reaches the sink of that backend
(lab.sink_messages) byte for byte after the backend's Received: header,
and (with dovecot-managesieved) ManageSieve (sieve_client.py) greets with
IMPLEMENTATION "backend-K", logs in, names the backend again in
CAPABILITY after the login, stores a script (PUTSCRIPT) that GETSCRIPT
returns and that lab.sieve_scripts finds on disk, byte for byte, and
refuses a wrong password with NO "Authentication failed.". Then stop: no
process of the lab is left, the sink included.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, info, skip  # noqa: E402
from backend_lab import BackendLab, BackendError, DOVECOT  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(REPO, "scripts", "netns-lab")
PREFIX = "k%d" % (os.getpid() % 10000)
ADDRS = ["198.51.100.%d" % i for i in range(1, 6)]

CLIENT = r"""
import imaplib, poplib, smtplib, socket, sys
sys.path.insert(0, @HERE@)
import sieve_client
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))
MSG = b"Subject: lab %d\r\n\r\n.dot\r\nend\r\n"
SCRIPT = SCRIPT
submission = sys.argv[1] == "1"
sieve = sys.argv[2] == "1"
for k, a in enumerate(sys.argv[3:], 1):
    name = "backend-%d" % k
    m = imaplib.IMAP4(a, 143, timeout=10)
    g = m.welcome.decode()
    try:
        m.login("alice", "wrong")
        bad = "accepted"
    except imaplib.IMAP4.error as e:
        bad = str(e)
    m.login("alice", "pass")
    typ, data = m._simple_command("ID", "NIL")
    idl = m.untagged_responses.get("ID", [b""])[0].decode()
    m.logout()
    p = poplib.POP3(a, 110, timeout=10)
    pg = p.getwelcome().decode()
    p.user("bob")
    pp = p.pass_("pass").decode()
    p.quit()
    s = socket.create_connection((a, 24), timeout=10)
    lg = s.recv(200).decode()
    s.sendall(b"LHLO test\r\n")
    lh = s.recv(500).decode()
    s.close()
    sg, code = "-", "-"
    if submission:
        m = smtplib.SMTP(a, 587, timeout=10)
        ecode, emsg = m.ehlo("lab.example")
        sg = "%d %s" % (ecode, emsg.decode().split("\n")[0])
        code, _ = m.login("carol", "pass")
        m.sendmail("carol@example.org", ["sink@example.org"], MSG % k)
        m.quit()
    sv = ["-"] * 5
    if sieve:
        c = sieve_client.Client(a, 4190, timeout=10)
        sv[0] = c.caps.get("IMPLEMENTATION", "?") + " " + c.greeting.raw
        sv[1] = c.authenticate_plain("dave", "pass", form="literal").raw
        sv[2] = c.capability()[0].get("IMPLEMENTATION", "?")
        put = c.putscript("lab", SCRIPT % k)
        got, r = c.getscript("lab")
        sv[3] = "%s %s" % (put.status, got == SCRIPT % k)
        c.logout()
        # Last: Dovecot's auth penalty would hold a later login from this
        # address for seconds.
        c = sieve_client.Client(a, 4190, timeout=10)
        sv[4] = c.authenticate_plain("dave", "wrong").raw
        c.logout()
    print("|".join([a, g, bad, idl, pg, pp, lg.strip(), lh.splitlines()[0],
                    sg.splitlines()[0], str(code)] + sv))
"""
# A script Pigeonhole accepts (PUTSCRIPT compiles it), with 8-bit text.
SCRIPT = (b'require "fileinto";\r\n# lab %d \xc3\xa9\r\n'
          b'if header :contains "subject" "lab" { fileinto "INBOX.lab"; }\r\n')
CLIENT = CLIENT.replace("@HERE@", repr(os.path.dirname(os.path.abspath(__file__))))
CLIENT = CLIENT.replace("SCRIPT = SCRIPT", "SCRIPT = %r" % SCRIPT)


def main():
    if os.geteuid() != 0:
        skip("needs root (netns)")
    if not os.access(DOVECOT, os.X_OK):
        skip("no Dovecot (%s)" % DOVECOT)
    r = subprocess.run([LAB, "up", "--prefix", PREFIX, "--backends", "5"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if r.returncode != 0:
            skip("netns-lab up failed: %s" % r.stderr.strip())
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        body(kv["backend_ns"])
    finally:
        subprocess.run([LAB, "down", "--prefix", PREFIX], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    info(pmtest.summary())
    return pmtest.status()


def body(ns):
    lab = BackendLab(ns, ADDRS)
    try:
        lab.start()
    except BackendError as e:
        check(False, "backends start: %s\n%s" % (e, e.log))
        return
    try:
        pids = lab.master_pids()
        check(len(pids) == 5, "5 masters running: %s" % pids)
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT,
                            "1" if lab.submission else "0",
                            "1" if lab.sieve else "0"] + ADDRS,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=120)
        check(r.returncode == 0, "clients ran: %s" % r.stderr[-2000:])
        lines = r.stdout.splitlines()
        check(len(lines) == 5, "5 backends answered: %r" % lines)
        for k, line in enumerate(lines, 1):
            f = line.split("|")
            name = "backend-%d" % k
            check(f[1].startswith("* OK [CAPABILITY ") and f[1].endswith("] %s ready" % name),
                  "%s: IMAP greeting %r" % (name, f[1]))
            check("AUTHENTICATIONFAILED" in f[2], "%s: wrong password refused: %r"
                  % (name, f[2]))
            check('"x-backend" "%s"' % name in f[3], "%s: ID names it: %r" % (name, f[3]))
            check(f[4].startswith("+OK") and name in f[4], "%s: POP3 greeting %r"
                  % (name, f[4]))
            check(f[5].startswith("+OK"), "%s: POP3 login %r" % (name, f[5]))
            check(f[6].startswith("220 "), "%s: LMTP greeting %r" % (name, f[6]))
            check(f[7].startswith("250"), "%s: LHLO %r" % (name, f[7]))
            if lab.sieve:
                check(f[10] == 'backend-%d OK "backend-%d ready"' % (k, k),
                      "%s: ManageSieve greeting names it: %r" % (name, f[10]))
                check(f[11] == 'OK "Logged in."', "%s: ManageSieve login: %r" % (name, f[11]))
                check(f[12] == name, "%s: CAPABILITY after the login names it: %r"
                      % (name, f[12]))
                check(f[13] == "OK True" and
                      lab.sieve_scripts(k, "dave") == {"lab": SCRIPT % k},
                      "%s: PUTSCRIPT stores the script, GETSCRIPT returns it: %r %r"
                      % (name, f[13], lab.sieve_scripts(k, "dave")))
                check(f[14] == 'NO "Authentication failed."',
                      "%s: ManageSieve refuses a wrong password: %r" % (name, f[14]))
            if not lab.submission:
                continue
            check(f[8] == "250 %s.lab" % name, "%s: Submission EHLO %r" % (name, f[8]))
            check(f[9] == "235", "%s: Submission AUTH %r" % (name, f[9]))
            msgs = lab.sink_messages(k)
            want = b"Subject: lab %d\r\n\r\n.dot\r\nend\r\n" % k
            env = msgs[0][1] if len(msgs) == 1 else []
            check(len(msgs) == 1 and msgs[0][2].startswith(b"Received: from ") and
                  msgs[0][2].endswith(b"\r\n" + want) and
                  b"\tby %s.lab with ESMTPA\r\n" % name.encode() in msgs[0][2] and
                  env[:1] == ["%s.lab" % name] and
                  env[1].startswith("MAIL <carol@example.org>") and
                  env[2:] == ["RCPT <sink@example.org>"],
                  "%s: the relayed message is in its sink: %r" % (name, msgs))
    finally:
        pids = lab.master_pids() + [lab.sink_pid()]
        log = lab.log_text()
        lab.stop()
        left = [p for p in pids if os.path.exists("/proc/%d" % p)]
        check(not left, "no master and no sink left after stop: %s" % left)
        if pmtest.status() != 0:
            sys.stdout.write(log[-4000:])


if __name__ == "__main__":
    sys.exit(main())
