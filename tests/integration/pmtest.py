"""Shared code of the Python integration tests (standard library only).

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pmtest

- Reporting and the exit-code protocol: check(), skip(), info(), summary(),
  status(). A test exits 0 (pass), 1 (fail) or 77 (skip, the reason on
  stderr); meson reads nothing else.
- The command line every test takes (`<path to postmuxctl>`, env
  PM_TESTDATA): ctl_from_argv(), testdata().
- Running `postmuxctl ring`: run_ring(), stdin_of(), placements().
- A reference model of Dovecot's director placement, spec section 1
  (shared/spec/director.md): user_hash(), canon(), ip_key(), vnode_hash(),
  Ring, and parse_spec() for postmuxctl's --backends text.
- The placement vectors made by a real director: load_vectors().
"""

import hashlib
import ipaddress
import os
import socket
import subprocess
import sys

# ---- reporting -------------------------------------------------------------

PASS, FAIL, SKIP = 0, 1, 77  # exit statuses

FAILURES = []  # the text of every failed check, in order
CHECKS = 0     # how many checks ran


def check(cond, what):
    """Count one check; on failure record `what` and print it. Returns cond,
    so that a caller can stop at a failed precondition."""
    global CHECKS
    CHECKS += 1
    if not cond:
        FAILURES.append(what)
        sys.stderr.write("FAIL: %s\n" % what)
    return cond


def skip(reason):
    """Exit with the skip status; the reason goes to stderr."""
    sys.stderr.write("SKIP: %s\n" % reason)
    sys.exit(SKIP)


def info(msg):
    """A progress line on stdout, flushed at once."""
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def summary():
    return "%d checks, %d failed" % (CHECKS, len(FAILURES))


def status():
    """The exit status once every check has run: FAIL if any failed."""
    return FAIL if FAILURES else PASS


# ---- command line ----------------------------------------------------------

def ctl_from_argv():
    """The path of postmuxctl, the one argument; exits FAIL if it is missing
    or not executable."""
    if len(sys.argv) != 2:
        sys.stderr.write("usage: %s <path to postmuxctl>\n" % sys.argv[0])
        sys.exit(FAIL)
    ctl = sys.argv[1]
    if not os.access(ctl, os.X_OK):
        sys.stderr.write("FAIL: %s is not an executable\n" % ctl)
        sys.exit(FAIL)
    return ctl


def testdata(name):
    """The path of tests/data/<name>, from PM_TESTDATA (set by meson); exits
    FAIL if it is not set."""
    data = os.environ.get("PM_TESTDATA")
    if not data:
        sys.stderr.write("FAIL: PM_TESTDATA is not set\n")
        sys.exit(FAIL)
    return os.path.join(data, name)


# ---- postmuxctl ring -------------------------------------------------------

def run_ring(ctl, args, stdin=b"", timeout=60):
    """(exit status, stdout, stderr) of `postmuxctl ring <args>`."""
    p = subprocess.run([ctl, "ring"] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def stdin_of(names):
    """postmuxctl's input: one name a line."""
    return b"".join(n + b"\n" for n in names)


def placements(ctl, spec, names, extra=()):
    """[(hash, backend)] for names from `postmuxctl ring --backends spec
    <extra>`, or None after a failed check (exit status, line count, or a
    line that is not `name TAB hash TAB backend`)."""
    rc, out, err = run_ring(ctl, ["--backends", spec] + list(extra), stdin_of(names))
    if not check(rc == 0, "postmuxctl --backends %r %r exit %d: %r" % (spec, extra, rc, err)):
        return None
    lines = out.split(b"\n")
    if not check(lines[-1] == b"" and len(lines) == len(names) + 1,
                 "%r %r: %d output lines for %d names" % (spec, extra, len(lines) - 1,
                                                         len(names))):
        return None
    res = []
    for name, line in zip(names, lines):
        f = line.split(b"\t")
        if not check(len(f) == 3 and f[0] == name, "bad output line %r for %r" % (line, name)):
            return None
        res.append((int(f[1]), f[2].decode()))
    return res


# ---- reference model of spec section 1 -------------------------------------

def md5_u32(data):
    """Spec 1.1 step 2 and 1.2: the first 4 bytes of MD5(data), big-endian."""
    return int.from_bytes(hashlib.md5(data).digest()[:4], "big")


def user_hash(name, fmt="%Lu", sep=None):
    """Spec 1.1: the user hash of name (bytes) under the director_username_hash
    template fmt, after cutting name at the master-user separator sep (bytes).

    Templates: %u (the name), %n (before the first '@'), %d (after it, or
    empty), %{user}, %{username}, %{domain}, %% and the modifiers %L / %U,
    which fold ASCII A-Z only (bytes.lower() and .upper() do exactly that,
    like str_lcase).  A hash of 0 becomes 1 (spec 1.1 step 3)."""
    if sep is not None and sep in name:
        name = name[:name.index(sep)]
    user = name
    n, _, d = name.partition(b"@")
    out = b""
    i = 0
    f = fmt.encode()
    while i < len(f):
        c = f[i:i + 1]
        if c != b"%":
            out += c
            i += 1
            continue
        i += 1
        if f[i:i + 1] == b"%":
            out += b"%"
            i += 1
            continue
        fold = None
        while f[i:i + 1] in (b"L", b"U"):
            fold = f[i:i + 1]
            i += 1
        if f[i:i + 1] == b"{":
            j = f.index(b"}", i)
            var = {b"user": b"u", b"username": b"n", b"domain": b"d"}[f[i + 1:j]]
            i = j + 1
        else:
            var = f[i:i + 1]
            i += 1
        val = {b"u": user, b"n": n, b"d": d}[var]
        if fold == b"L":
            val = val.lower()
        elif fold == b"U":
            val = val.upper()
        out += val
    return md5_u32(out) or 1


def ip_family(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def canon(ip):
    """Spec 1.2: the canonical (inet_ntop) text of an address, the form that
    is hashed: IPv6 lowercase and compressed, v4-mapped and v4-compatible
    addresses with a dotted tail."""
    fam = ip_family(ip)
    return socket.inet_ntop(fam, socket.inet_pton(fam, ip))


def ip_key(ip):
    """Spec 1.2, net_ip_cmp order: family (AF_INET before AF_INET6), then the
    network-order bytes (numeric, not text, order)."""
    fam = ip_family(ip)
    return (0 if fam == socket.AF_INET else 1, socket.inet_pton(fam, ip))


def vnode_hash(ip, i):
    """Spec 1.2: the hash of point i of the host with canonical address ip."""
    return md5_u32(("%s-%d" % (ip, i)).encode())


_VNODES = {}


def vnode_points(ip, count):
    """[vnode_hash(ip, i) for i in range(count)], cached per address."""
    pts = _VNODES.setdefault(ip, [])
    while len(pts) < count:
        pts.append(vnode_hash(ip, len(pts)))
    return pts[:count]


class Ring:
    """The ring of one tag (spec 1.2, 1.4).

    hosts: {canonical ip: {"tag": str, "vhosts": int, "up": bool}}, the form
    of parse_spec() and of test_real_director.py's director state.  A host
    adds its vhosts points to the ring of its tag unless it is down or has
    0 vhosts; the points are sorted by (hash, net_ip_cmp)."""

    def __init__(self, hosts, tag=""):
        pts = []
        for ip, h in hosts.items():
            if h["tag"] == tag and h["up"] and h["vhosts"] > 0:
                key = ip_key(ip)
                pts.extend((p, key, ip) for p in vnode_points(ip, h["vhosts"]))
        pts.sort()
        self.points = pts  # [(hash, ip_key, ip)]

    def lookup_hash(self, h):
        """Spec 1.3: the backend of user hash h ("" for an empty ring), by the
        binary search exactly as mail_host_get_by_hash does it, so that even
        an exact hit on several equal points gives the director's answer."""
        pts = self.points
        if not pts:
            return ""
        lo, hi = 0, len(pts)
        idx = None
        while lo < hi:
            mid = (lo + hi) // 2
            if pts[mid][0] < h:
                lo = mid + 1
            elif pts[mid][0] > h:
                hi = mid
            else:
                idx = mid
                break
        if idx is None:
            idx = lo
        if idx == len(pts):
            idx = 0
        return pts[idx][2]

    def lookup(self, name, fmt="%Lu", sep=None):
        """The backend of a user name (spec 1.1, then 1.3)."""
        return self.lookup_hash(user_hash(name, fmt, sep))

    def arc_before(self, p):
        """(lo, hi): user hashes h with lo < h <= hi land on the first point
        equal to p (None if p is not a point); lo > hi means wrap-around."""
        hashes = [x[0] for x in self.points]
        if p not in hashes:
            return None
        i = hashes.index(p)  # first of the equal points
        prev = hashes[i - 1] if i > 0 else hashes[-1]
        return (prev, p)


def parse_spec(text):
    """A minimal parser for the vector files' and the tests' --backends text:
    ip[-ip2][@tag][=vhosts][:down|:up] separated by white space.  Returns the
    hosts of Ring(), keyed by canonical address; an address given twice (which
    postmuxctl refuses) raises ValueError."""
    hosts = {}
    for tok in text.split():
        up = True
        if tok.endswith(":down"):
            up, tok = False, tok[:-5]
        elif tok.endswith(":up"):
            tok = tok[:-3]
        vhosts = 100
        if "=" in tok:
            tok, v = tok.split("=", 1)
            vhosts = int(v)
        tag = ""
        if "@" in tok:
            tok, tag = tok.split("@", 1)
        if "-" in tok:
            a, b = (ipaddress.ip_address(x) for x in tok.split("-"))
            ips = [ipaddress.ip_address(int(a) + i) for i in range(int(b) - int(a) + 1)]
        else:
            ips = [ipaddress.ip_address(tok)]
        for ip in ips:
            ip = canon(str(ip))
            if ip in hosts:
                raise ValueError("%s is given twice in %r" % (ip, text))
            hosts[ip] = {"tag": tag, "vhosts": vhosts, "up": up}
    return hosts


# ---- vectors ---------------------------------------------------------------

def load_vectors(path):
    """tests/data/ring-vectors.tsv, made by a real Dovecot 2.3.19.1 director:
    [(scenario name, spec, [(name, %Lu hash, backend)])] in file order.  Only
    lines that begin with "@scenario " are headers (names may begin with '@')."""
    scenarios = []
    with open(path, "rb") as fp:
        data = fp.read()
    for line in data.split(b"\n"):
        if line == b"" or line.startswith(b"#"):
            continue
        if line.startswith(b"@scenario "):
            _, name, spec = line.decode().split(" ", 2)
            scenarios.append((name, spec, []))
            continue
        name, h, backend = line.split(b"\t")
        scenarios[-1][2].append((name, int(h), backend.decode()))
    return scenarios
