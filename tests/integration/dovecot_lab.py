"""A private, standalone Dovecot 2.3 director for side-by-side tests.

Python 3 standard library only.  Used by test_real_director.py; reusable:

    from dovecot_lab import DirectorLab, LabError, missing_binaries

    with DirectorLab("10.0.0.1-10.0.0.5") as lab:    # starts; stops on exit
        adm = lab.admin()                           # director-doveadm v1 client
        print(adm.user_lookup("user1"))             # ('', 0, '10.0.0.3', '10.0.0.3')

What it does (shared/spec/dovecot-backend-lab.md, director.md sections 0, 3):

- Everything lives in a fresh temporary directory: dovecot.conf, base_dir
  (run/), state_dir (state/), the log (dovecot.log) and the master's
  stdout/stderr (master.out).  Dovecot is started with `-c <that conf>` only,
  so /etc/dovecot is never read, and the config includes nothing.
- `protocols = none`: the master starts without any protocol, hence without
  imap-login/pop3-login/... and their inet listeners.  The only TCP listener
  is the director's ring listener, bound to 127.0.0.1:<free port>, which is
  also the only entry in director_servers (a ring of one: standalone).
  `listen = 127.0.0.1` as well, in case any other default inet listener with
  an empty address were ever enabled.
- The master runs in the foreground (`dovecot -F`) as our child, so it can be
  reaped; daemonised, its zombie is re-parented to PID 1, which does not reap
  it on these machines.  It still writes <base_dir>/master.pid, and it is
  stopped by SIGTERM to exactly that pid (never by process name).
- The director process itself is started lazily by the master on the first
  connection to one of its sockets; start() makes that first connection and
  waits for the admin banner, so a director that cannot start is reported
  right away (LabError, with the log).

Needs root (the master binds, chroots and drops privileges to the package's
`dovecot`/`dovenull` users).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DOVECOT = "/usr/sbin/dovecot"
DIRECTOR = "/usr/lib/dovecot/director"
DOVEADM = "/usr/bin/doveadm"

ADMIN_HANDSHAKE = "VERSION\tdirector-doveadm\t1\t0"


class LabError(Exception):
    """The director could not be started (or spoke something unexpected).

    .log holds the Dovecot log and the master's own output, for printing."""

    def __init__(self, msg, log=""):
        Exception.__init__(self, msg)
        self.log = log


def missing_binaries():
    """The Dovecot files this lab needs that are not installed (a list)."""
    return [p for p in (DOVECOT, DIRECTOR, DOVEADM) if not os.access(p, os.X_OK)]


# ---- director-doveadm protocol v1 -----------------------------------------

def tabescape(s):
    """Dovecot's str_tabescape on bytes: 0x01, TAB, CR, LF."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return (s.replace(b"\x01", b"\x011").replace(b"\t", b"\x01t")
            .replace(b"\r", b"\x01r").replace(b"\n", b"\x01n"))


def tabunescape(b):
    out = bytearray()
    i = 0
    while i < len(b):
        c = b[i]
        if c == 1 and i + 1 < len(b):
            out += {ord("1"): b"\x01", ord("t"): b"\t", ord("r"): b"\r",
                    ord("n"): b"\n"}.get(b[i + 1], bytes([b[i + 1]]))
            i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


class AdminError(Exception):
    pass


class DirectorAdmin:
    """Client of the director's `director-admin` UNIX socket (spec 3.1/3.2).

    One command at a time: every command waits for its complete reply before
    the next is sent (pipelining loses commands on a ring, spec 3.1).
    Arguments are str or bytes and are tab-escaped; replies are str (UTF-8,
    undecodable bytes replaced) with fields already split and unescaped."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        try:
            banner = self._readline()
        except AdminError as e:
            raise AdminError("no admin banner: %s" % e)
        if banner != ADMIN_HANDSHAKE.encode():
            raise AdminError("unexpected admin banner %r" % banner)
        self._send(ADMIN_HANDSHAKE.encode() + b"\n")

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _send(self, data):
        self.sock.sendall(data)

    def _readline(self):
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise AdminError("timed out waiting for a reply on %s" % self.path)
            if not chunk:
                # Also how the director rejects an unknown command or bad
                # arguments (spec 3.1).
                raise AdminError("the director closed the admin connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def _request(self, args):
        self._send(b"\t".join(tabescape(a) for a in args) + b"\n")

    def command(self, *args):
        """Send one command, return its one-line reply as a str."""
        self._request(args)
        return self._readline().decode("utf-8", "replace")

    def command_list(self, *args):
        """Send one command whose reply is lines ended by an empty line;
        return a list of field lists."""
        self._request(args)
        rows = []
        while True:
            line = self._readline()
            if line == b"":
                return rows
            rows.append([tabunescape(f).decode("utf-8", "replace")
                         for f in line.split(b"\t")])

    # Convenience wrappers.
    def host_list(self):
        """HOST-LIST as dicts: ip, vhosts, users, tag, up, updown_ts."""
        out = []
        for f in self.command_list("HOST-LIST"):
            if len(f) < 6:
                raise AdminError("bad HOST-LIST line %r" % (f,))
            out.append({"ip": f[0], "vhosts": int(f[1]), "users": int(f[2]),
                        "tag": f[3], "up": f[4] == "U", "state": f[4],
                        "updown_ts": int(f[5])})
        return out

    def user_lookup(self, name, tag=""):
        """USER-LOOKUP name tag -> (cur_ip, expire_ts, hashed_ip, initial_ip).

        The tag field is always sent (may be empty), like doveadm does.
        Note: a name that parses as an unsigned int is taken as the hash."""
        line = self.command("USER-LOOKUP", name, tag)
        f = line.split("\t")
        if len(f) != 4:
            raise AdminError("bad USER-LOOKUP reply %r for %r" % (line, name))
        return (f[0], int(f[1]), f[2], f[3])


# ---- the lab --------------------------------------------------------------

def free_loopback_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as fp:
                st = fp.read()
        except OSError:
            continue
        # "pid (comm) state ppid ..."; comm may contain spaces/parens.
        fields = st[st.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            kids.append(int(d))
    return kids


def _alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as fp:
            st = fp.read()
    except OSError:
        return False
    return st[st.rfind(")") + 2:].split()[0] != "Z"


class DirectorLab:
    """One standalone director; start() / stop(), or use as a context manager.

    mail_servers: the director_mail_servers value.
    settings: extra `key = value` settings for dovecot.conf (dict).
    """

    def __init__(self, mail_servers, settings=None, start_timeout=15.0):
        self.mail_servers = mail_servers
        self.settings = dict(settings or {})
        self.start_timeout = start_timeout
        self.dir = None
        self.proc = None
        self.port = None
        self.master_pid = None
        self.instance = None

    # paths
    @property
    def conf(self):
        return os.path.join(self.dir, "dovecot.conf")

    @property
    def base_dir(self):
        return os.path.join(self.dir, "run")

    @property
    def admin_socket(self):
        return os.path.join(self.base_dir, "director-admin")

    @property
    def log_file(self):
        return os.path.join(self.dir, "dovecot.log")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def log_text(self):
        """The Dovecot log plus the master's stdout/stderr."""
        if self.dir is None:
            return ""
        out = []
        for name in ("dovecot.log", "master.out"):
            try:
                with open(os.path.join(self.dir, name), "rb") as fp:
                    text = fp.read().decode("utf-8", "replace")
            except OSError:
                continue
            if text:
                out.append("--- %s ---\n%s" % (name, text))
        return "\n".join(out)

    def _write_conf(self):
        s = [
            ("instance_name", self.instance),
            ("base_dir", self.base_dir),
            ("state_dir", os.path.join(self.dir, "state")),
            ("log_path", self.log_file),
            ("info_log_path", self.log_file),
            ("debug_log_path", self.log_file),
            ("protocols", "none"),
            ("listen", "127.0.0.1"),
            ("ssl", "no"),
            ("director_servers", "127.0.0.1:%d" % self.port),
            ("director_mail_servers", self.mail_servers),
        ]
        seen = set(k for k, _ in s)
        for k, v in self.settings.items():
            if k in seen:
                s = [(k2, v if k2 == k else v2) for k2, v2 in s]
            else:
                s.append((k, v))
        with open(self.conf, "w") as fp:
            fp.write("# written by tests/integration/dovecot_lab.py\n")
            for k, v in s:
                fp.write("%s = %s\n" % (k, v))
            fp.write("service director {\n"
                     "  unix_listener login/director {\n    mode = 0666\n  }\n"
                     "  fifo_listener login/proxy-notify {\n    mode = 0666\n  }\n"
                     "  unix_listener director-admin {\n    mode = 0600\n  }\n"
                     "  inet_listener {\n    address = 127.0.0.1\n"
                     "    port = %d\n  }\n"
                     "}\n" % self.port)

    def start(self):
        miss = missing_binaries()
        if miss:
            raise LabError("missing Dovecot binaries: %s" % " ".join(miss))
        for attempt in range(3):
            self.dir = tempfile.mkdtemp(prefix="pm-director-")
            # The master chroots/drops privileges for its children; let them
            # traverse the directory (nothing in it is secret).
            os.chmod(self.dir, 0o755)
            self.instance = "pmlab-%d-%s" % (os.getpid(), os.path.basename(self.dir)[-6:])
            try:
                self._start_once()
                return
            except LabError as e:
                self.stop()
                # The free port was taken between our probe and the master's
                # bind: try another one.
                if attempt == 2 or "Address already in use" not in e.log:
                    raise
            except BaseException:
                self.stop()
                raise

    def _start_once(self):
        self.port = free_loopback_port()
        self._write_conf()
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C"}
        out = open(os.path.join(self.dir, "master.out"), "wb")
        try:
            self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, env=env,
                                         cwd=self.dir, start_new_session=True)
        finally:
            out.close()
        deadline = time.monotonic() + self.start_timeout
        pidfile = os.path.join(self.base_dir, "master.pid")
        while True:
            if self.proc.poll() is not None:
                raise LabError("dovecot master exited with status %d during startup"
                               % self.proc.returncode, self.log_text())
            try:
                with open(pidfile) as fp:
                    pid = int(fp.read().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid and os.path.exists(self.admin_socket):
                self.master_pid = pid
                break
            if time.monotonic() > deadline:
                raise LabError("dovecot master did not create %s and %s within %.0f s"
                               % (pidfile, self.admin_socket, self.start_timeout),
                               self.log_text())
            time.sleep(0.02)
        if self.master_pid != self.proc.pid:
            raise LabError("master.pid says %d but the master we started is %d"
                           % (self.master_pid, self.proc.pid), self.log_text())
        # First connection: the master forks the director now.
        try:
            adm = DirectorAdmin(self.admin_socket,
                                timeout=max(1.0, deadline - time.monotonic()))
            adm.host_list()
            adm.close()
        except (OSError, AdminError) as e:
            time.sleep(0.5)  # let the log process write the director's error
            raise LabError("the director did not answer on %s: %s"
                           % (self.admin_socket, e), self.log_text())

    def admin(self, timeout=10.0):
        return DirectorAdmin(self.admin_socket, timeout=timeout)

    def doveadm(self, *args, timeout=30):
        """Run doveadm with this lab's config (never /etc/dovecot)."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C",
               "HOME": self.dir}
        return subprocess.run([DOVEADM, "-c", self.conf] + list(args),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, timeout=timeout)

    def stop(self):
        """Stop the master (SIGTERM to the pid in master.pid), wait for it and
        its children, remove the temporary directory.  Idempotent."""
        if self.proc is not None:
            pid = self.master_pid
            if pid is None:
                try:
                    with open(os.path.join(self.base_dir, "master.pid")) as fp:
                        pid = int(fp.read().strip())
                except (OSError, ValueError):
                    pid = None
            if pid != self.proc.pid:
                # master.pid missing or not ours (startup failed early): the
                # process we started is the master.
                pid = self.proc.pid
            kids = _children_of(pid) if self.proc.poll() is None else []
            if self.proc.poll() is None:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.proc.wait(timeout=10)
            # The master terminates its children on shutdown; make sure.
            deadline = time.monotonic() + 5
            while any(_alive(k) for k in kids) and time.monotonic() < deadline:
                time.sleep(0.05)
            for k in kids:
                if _alive(k):
                    try:
                        with open("/proc/%d/cmdline" % k, "rb") as fp:
                            cmd = fp.read()
                    except OSError:
                        continue
                    if self.instance.encode() in cmd:
                        os.kill(k, signal.SIGKILL)
            self.proc = None
            self.master_pid = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
