#!/usr/bin/env python3
"""Real Dovecot backends inside a network namespace, for the tests and the demo.

One Dovecot instance per backend address (../shared/spec/dovecot-backend-lab.md):
IMAP 143, POP3 110, LMTP 24 and Submission 587 (if dovecot-submissiond is
installed: lab.submission) on that address only; any user logs in with the
password "pass" (static passdb, auth_failure_delay 0); mail in maildirs
under the lab's directory; the greeting and the post-login ID name the
backend ("backend-K ready", x-backend "backend-K", K = 1, 2, ... in address
order), and so does Submission's host name (hostname = backend-K.lab: the
EHLO reply after the login and the Received: header it adds); the proxy's
addresses are trusted (login_trusted_networks), so the client address it
forwards (IMAP ID x-originating-ip, POP3 and Submission XCLIENT) is
honoured.

ManageSieve (if dovecot-managesieved is installed: lab.sieve) on port 4190:
managesieve_implementation_string = backend-K, so the IMPLEMENTATION
capability names the backend, in the greeting of a direct connection and
in the CAPABILITY reply after a login (also through a proxy); scripts are
stored under the user's home (sieve = file:~/sieve;active=~/.dovecot.sieve,
dovecot-sieve's plugin settings), so PUTSCRIPT, LISTSCRIPTS, GETSCRIPT and
SETACTIVE work; lab.sieve_scripts(k, user) lists what a user stored there.

Submission relays what it is given (submission_relay_host) to an SMTP sink
(smtp_sink.py, one process for the lab) at the backend's own address, port
25, which keeps each message in DIR/bK/sink (<n>.eml, <n>.env):
lab.sink_messages(k) lists them, so a test knows which backend relayed a
message and can compare its bytes.

As a module:
    with BackendLab("pm-backend", ["198.51.100.1", ...],
                    trusted="198.51.100.0/24") as lab:
        lab.name_of("198.51.100.1")   # "backend-1"
        lab.log_text()
As a program (the demo):
    backend_lab.py start --ns NS --addrs A,B,... --dir DIR [--trusted NET]
    backend_lab.py stop --dir DIR
start daemonises the instances (their master.pid files are in DIR/bK/run)
and the sink (DIR/sink.pid); stop ends every instance found under DIR, and
the sink. Exit status 0, or 1 with a message.

Instances are stopped by the pid in their master.pid, never by name: other
Dovecot instances may run on the machine.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

DOVECOT = "/usr/sbin/dovecot"
# Debian's dovecot-submissiond; without it the backends serve no Submission
# (and no sink runs): lab.submission says which.
SUBMISSION = "/usr/lib/dovecot/submission"
# Debian's dovecot-managesieved (with dovecot-sieve): lab.sieve says whether
# the backends serve ManageSieve.
MANAGESIEVE = "/usr/lib/dovecot/managesieve"
SIEVE_PORT = 4190
SINK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smtp_sink.py")
SINK_PORT = 25
PASSWORD = "pass"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C"}


class BackendError(Exception):
    def __init__(self, msg, log=""):
        super().__init__(msg)
        self.log = log


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as fp:
            return fp.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _read_pid(path):
    try:
        with open(path) as fp:
            return int(fp.read().strip() or "0")
    except (OSError, ValueError):
        return 0


def conf_text(k, addr, d, trusted, instance, submission=True, sieve=True):
    """dovecot.conf of backend number @k at @addr, living in directory @d;
    @submission: serve Submission too, relaying to the sink at @addr;
    @sieve: serve ManageSieve too."""
    mail = os.path.join(d, "mail")
    sub = ""
    if sieve:
        # The sieve plugin settings are what dovecot-sieve's 90-sieve.conf
        # has: the scripts in ~/sieve, the active one linked from
        # ~/.dovecot.sieve. The implementation string is what the
        # IMPLEMENTATION capability says, before and after the login.
        sub += """managesieve_implementation_string = backend-{k}
service managesieve-login {{
  inet_listener sieve {{
    address = {addr}
    port = {port}
  }}
  service_count = 0
  client_limit = 10000
}}
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
}}
""".format(k=k, addr=addr, port=SIEVE_PORT)
    if submission:
        sub += """submission_relay_host = {addr}
submission_relay_port = {port}
service submission-login {{
  service_count = 0
  client_limit = 10000
}}
""".format(addr=addr, port=SINK_PORT)
    return """# written by tests/integration/backend_lab.py
instance_name = {inst}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
listen = {addr}
protocols = imap pop3 lmtp{more}
hostname = backend-{k}.lab
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_greeting = backend-{k} ready
imap_id_send = name * x-backend backend-{k}
login_trusted_networks = {trusted}
mail_location = maildir:~/Maildir
first_valid_uid = 1
mail_fsync = never
mail_max_userip_connections = 10000
default_process_limit = 1000
default_client_limit = 10000
passdb {{
  driver = static
  args = password={pw}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={mail}/%u allow_all_users=yes
}}
service imap-login {{
  service_count = 0
  process_min_avail = 1
  client_limit = 10000
}}
service pop3-login {{
  service_count = 0
  client_limit = 10000
}}
service lmtp {{
  inet_listener lmtp {{
    address = {addr}
    port = 24
  }}
}}
""".format(inst=instance, d=d, addr=addr, k=k, trusted=trusted, pw=PASSWORD,
           mail=mail, more=(" submission" if submission else "") +
           (" sieve" if sieve else "")) + sub


class BackendLab:
    """Dovecot backends at @addrs (numbered 1.. in that order) in namespace
    @ns, and the SMTP sink they relay Submission mail to. start()/stop(), or
    a context manager. @daemon: let the masters daemonise and the sink run
    on (for the demo); otherwise they run in the foreground as our
    children."""

    def __init__(self, ns, addrs, trusted="198.51.100.0/24", directory=None,
                 daemon=False, start_timeout=20.0):
        self.ns = ns
        self.addrs = list(addrs)
        self.trusted = trusted
        self.daemon = daemon
        self.start_timeout = start_timeout
        self.own_dir = directory is None
        self.dir = directory
        self.procs = []
        self.submission = os.access(SUBMISSION, os.X_OK)
        self.sieve = os.access(MANAGESIEVE, os.X_OK)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def name_of(self, addr):
        return "backend-%d" % (self.addrs.index(addr) + 1)

    def bdir(self, k):
        return os.path.join(self.dir, "b%d" % k)

    def log_text(self):
        out = []
        files = [("backend-%d %s" % (k, name), os.path.join(self.bdir(k), name))
                 for k in range(1, len(self.addrs) + 1)
                 for name in ("dovecot.log", "master.out")]
        files.append(("sink", os.path.join(self.dir or "", "sink.out")))
        for what, path in files:
            try:
                with open(path, "rb") as fp:
                    text = fp.read().decode("utf-8", "replace")
            except OSError:
                continue
            if text:
                out.append("--- %s ---\n%s" % (what, text))
        return "\n".join(out)

    def start(self):
        if not os.access(DOVECOT, os.X_OK):
            raise BackendError("%s is missing (Debian: dovecot-imapd dovecot-pop3d "
                               "dovecot-lmtpd)" % DOVECOT)
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="pm-backends-")
        os.makedirs(self.dir, exist_ok=True)
        # The master drops privileges for its children: let them traverse.
        os.chmod(self.dir, 0o755)
        try:
            if self.submission:
                self._start_sink()
            for k, addr in enumerate(self.addrs, 1):
                self._start_one(k, addr)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _start_one(self, k, addr):
        d = self.bdir(k)
        os.makedirs(os.path.join(d, "mail"), exist_ok=True)
        os.chmod(d, 0o755)
        shutil.chown(os.path.join(d, "mail"), "nobody", "nogroup")
        inst = "pmb-%s-%d" % (os.path.basename(self.dir.rstrip("/"))[-8:], k)
        conf = os.path.join(d, "dovecot.conf")
        with open(conf, "w") as fp:
            fp.write(conf_text(k, addr, d, self.trusted, inst, self.submission,
                               self.sieve))
        cmd = ["ip", "netns", "exec", self.ns, DOVECOT, "-c", conf]
        if not self.daemon:
            cmd.insert(5, "-F")
        out = open(os.path.join(d, "master.out"), "wb")
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, env=ENV, cwd=d,
                                 start_new_session=True)
        finally:
            out.close()
        if self.daemon:
            if p.wait(timeout=self.start_timeout) != 0:
                raise BackendError("dovecot for %s exited with %d" % (addr, p.returncode),
                                   self.log_text())
        else:
            self.procs.append(p)

    def sink_dir(self, k):
        return os.path.join(self.bdir(k), "sink")

    def _start_sink(self):
        """One smtp_sink.py for every backend address (port SINK_PORT),
        started like the masters: our child, or left running for the demo."""
        pidfile = os.path.join(self.dir, "sink.pid")
        cmd = ["ip", "netns", "exec", self.ns, sys.executable, SINK, "--pidfile", pidfile]
        for k, addr in enumerate(self.addrs, 1):
            os.makedirs(self.sink_dir(k), exist_ok=True)
            cmd.append("%s:%d=%s" % (addr, SINK_PORT, self.sink_dir(k)))
        out = open(os.path.join(self.dir, "sink.out"), "wb")
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, env=ENV, cwd=self.dir,
                                 start_new_session=True)
        finally:
            out.close()
        if not self.daemon:
            self.procs.append(p)

    def sink_messages(self, k):
        """[(n, envelope lines, message bytes)] that backend @k relayed to
        the sink so far, in the order the sink got them."""
        d = self.sink_dir(k)
        out = []
        try:
            names = os.listdir(d)
        except OSError:
            return out
        for name in names:
            if not name.endswith(".env"):
                continue
            n = int(name[:-4])
            with open(os.path.join(d, name)) as fp:
                env = fp.read().splitlines()
            with open(os.path.join(d, "%d.eml" % n), "rb") as fp:
                out.append((n, env, fp.read()))
        return sorted(out)

    def sieve_scripts(self, k, user):
        """{name: bytes} of the Sieve scripts @user stored on backend @k
        (PUTSCRIPT), from the user's ~/sieve (Pigeonhole keeps NAME.sieve
        there, and its own tmp/ directory)."""
        d = os.path.join(self.bdir(k), "mail", user, "sieve")
        out = {}
        try:
            names = os.listdir(d)
        except OSError:
            return out
        for name in names:
            if name.endswith(".sieve"):
                with open(os.path.join(d, name), "rb") as fp:
                    out[name[:-6]] = fp.read()
        return out

    def log_of(self, k):
        """Backend @k's dovecot.log so far."""
        try:
            with open(os.path.join(self.bdir(k), "dovecot.log"), "rb") as fp:
                return fp.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_ready(self):
        """Every instance has its master.pid and accepts IMAP (and
        Submission, and the sink answers; and ManageSieve) on its
        address."""
        deadline = time.monotonic() + self.start_timeout
        ports = "(143, b'* OK')"
        if self.submission:
            ports += ", (587, b'220 '), (%d, b'220 ')" % SINK_PORT
        if self.sieve:
            ports += ", (%d, b'\"IMPLEMENTATION\" ')" % SIEVE_PORT
        probe = ("import socket,sys\n"
                 "for a in sys.argv[1:]:\n"
                 "    for port, hello in (%s,):\n"
                 "        s=socket.create_connection((a,port),timeout=2)\n"
                 "        b=s.recv(200)\n"
                 "        assert b.startswith(hello), b\n"
                 "        s.close()\n" % ports)
        while True:
            for p in self.procs:
                if p.poll() is not None:
                    raise BackendError("a dovecot master or the sink exited with %d during "
                                       "startup" % p.returncode, self.log_text())
            pids = [_read_pid(os.path.join(self.bdir(k), "run", "master.pid"))
                    for k in range(1, len(self.addrs) + 1)]
            if all(pids):
                r = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, "-c",
                                    probe] + self.addrs, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=30)
                if r.returncode == 0:
                    return
            if time.monotonic() > deadline:
                raise BackendError("the backends did not come up within %.0f s"
                                   % self.start_timeout, self.log_text())
            time.sleep(0.1)

    def master_pids(self):
        pids = []
        if self.dir is None or not os.path.isdir(self.dir):
            return pids
        for name in sorted(os.listdir(self.dir)):
            pid = _read_pid(os.path.join(self.dir, name, "run", "master.pid"))
            if pid and _alive(pid):
                pids.append(pid)
        return pids

    def sink_pid(self):
        """The sink's pid from DIR/sink.pid, 0 if it does not run."""
        if self.dir is None:
            return 0
        pid = _read_pid(os.path.join(self.dir, "sink.pid"))
        return pid if pid and _alive(pid) else 0

    def stop(self):
        """SIGTERM to every master (by master.pid) and the sink (by
        sink.pid), wait, then SIGKILL what is left of our own children;
        remove the directory if we made it."""
        pids = self.master_pids() + [p.pid for p in self.procs if p.poll() is None]
        if self.sink_pid():
            pids.append(self.sink_pid())
        for pid in set(pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            for p in self.procs:
                p.poll()
            time.sleep(0.05)
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        self.procs = []
        if self.own_dir and self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def main():
    ap = argparse.ArgumentParser(description="Dovecot backends in a namespace")
    ap.add_argument("cmd", choices=["start", "stop"])
    ap.add_argument("--ns")
    ap.add_argument("--addrs")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--trusted", default="198.51.100.0/24")
    a = ap.parse_args()
    try:
        if a.cmd == "start":
            if not a.ns or not a.addrs:
                ap.error("start needs --ns and --addrs")
            lab = BackendLab(a.ns, a.addrs.split(","), a.trusted, a.dir, daemon=True)
            lab.start()
            print("started %d backend(s) in %s" % (len(lab.addrs), a.ns))
        else:
            lab = BackendLab(None, [], directory=a.dir)
            n = len(lab.master_pids())
            lab.stop()
            print("stopped %d backend(s)" % n)
    except (BackendError, OSError, subprocess.SubprocessError) as e:
        sys.stderr.write("backend_lab: %s\n%s\n" % (e, getattr(e, "log", "")))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
