#!/usr/bin/env python3
"""postmuxctl's user hash against the real Dovecot 2.3.19.1 implementation.

Usage: test_doveadm_hash.py <path to postmuxctl>   (env PM_TESTDATA, optional
       PM_DOVEADM: the doveadm binary, default /usr/bin/doveadm)
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr).

`doveadm director map -u <name>` hashes the name locally with doveadm's own
director_username_hash (spec 3.3, 7.1) and needs no running Dovecot. doveadm
is pointed at a throw-away config in a temporary directory (`-c`), so
/etc/dovecot is never read, and the template is set with `-o`. It takes
exactly one name per call (and `doveadm batch` crashes), so the calls run in
a small thread pool. The name goes after `--`, which keeps names that begin
with '-' from being read as options.

doveadm does not apply a master-user separator, so --master-separator is
checked by giving doveadm the already-cut name.
"""

import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import check, placements, skip  # noqa: E402

DOVEADM_CANDIDATES = ("/usr/bin/doveadm",)


class Doveadm:
    def __init__(self, path, tmp):
        self.path = path
        self.conf = os.path.join(tmp, "dovecot.conf")
        with open(self.conf, "w") as fp:
            # Only paths inside the temporary directory; nothing is started.
            fp.write("base_dir = %s\n" % os.path.join(tmp, "run"))
            fp.write("state_dir = %s\n" % os.path.join(tmp, "state"))
            fp.write("log_path = %s\n" % os.path.join(tmp, "doveadm.log"))
        self.env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C", "LC_ALL": "C"}

    def run(self, fmt, name):
        """(exit status, stdout, stderr) of one `director map -u`."""
        p = subprocess.run([self.path, "-c", self.conf, "-o", "director_username_hash=" + fmt,
                            "director", "map", "-u", "--", name],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                           timeout=30)
        return p.returncode, p.stdout, p.stderr

    def hash(self, fmt, name):
        rc, out, err = self.run(fmt, name)
        text = out.decode("ascii", "replace").strip()
        if rc != 0 or not text.isdigit() or err.strip():
            return "exit %d, stdout %r, stderr %r" % (rc, out, err)
        return int(text)


def postmuxctl_hashes(ctl, names, fmt, sep=None):
    """postmuxctl's hashes of names with --hash-format fmt (and
    --master-separator sep), or None after a failed check."""
    extra = ["--hash-format", fmt]
    if sep is not None:
        extra += ["--master-separator", sep]
    got = placements(ctl, "10.0.0.1", names, extra)
    return None if got is None else [h for h, _ in got]


def load_names(path):
    """(name, %Lu hash) rows of ring-vectors.tsv, in file order."""
    return [(name, h) for _, _, rows in pmtest.load_vectors(path) for name, h, _ in rows]


def pick(rows, count):
    """A deterministic subset: every special name (empty, leading '@' or '-',
    non-ASCII, several '@', upper case), then every k-th of the rest."""
    seen, special, plain = set(), [], []
    for name, h in rows:
        if name in seen or b"\r" in name:
            continue
        seen.add(name)
        odd = (name == b"" or name[:1] in (b"@", b"-") or any(c >= 0x80 for c in name)
               or name.count(b"@") > 1)
        (special if odd else plain).append((name, h))
    special = special[:count // 2]
    step = max(1, len(plain) // (count - len(special)))
    return special + plain[::step][:count - len(special)]


def compare(dove, ctl, pool, fmt, names, sep=None, dove_names=None):
    """postmuxctl with fmt (and sep) on names must equal doveadm on
    dove_names (default: the same names)."""
    dove_names = dove_names or names
    ours = postmuxctl_hashes(ctl, names, fmt, sep)
    theirs = list(pool.map(lambda n: dove.hash(fmt, n), dove_names))
    if ours is None:
        return
    bad = [(n, o, t) for n, o, t in zip(names, ours, theirs) if o != t]
    check(not bad, "format %r sep %r: %d of %d names differ from doveadm, first %r"
          % (fmt, sep, len(bad), len(names), bad[:3]))


def main():
    ctl = pmtest.ctl_from_argv()
    vectors = pmtest.testdata("ring-vectors.tsv")
    # PM_DOVEADM overrides the binary (used to check the skip path).
    path = os.environ.get("PM_DOVEADM")
    if path is not None:
        if not os.access(path, os.X_OK):
            skip("PM_DOVEADM=%s is not an executable" % path)
    else:
        path = next((p for p in DOVEADM_CANDIDATES if os.access(p, os.X_OK)), None)
        path = path or shutil.which("doveadm")
    if path is None:
        skip("doveadm is not installed (Debian package dovecot-core)")

    rows = load_names(vectors)
    with tempfile.TemporaryDirectory(prefix="pm-doveadm-") as tmp, \
            concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        dove = Doveadm(path, tmp)
        # Can doveadm hash at all here? If not, that is the environment.
        try:
            probe = dove.hash("%Lu", b"user1")
        except (OSError, subprocess.SubprocessError) as e:
            skip("cannot run %s: %s" % (path, e))
        if not isinstance(probe, int):
            skip("%s director map -u does not work here: %s" % (path, probe))
        # From here on doveadm works, so a wrong answer is a failure.
        check(probe == 617210206, "doveadm: user1 -> %r, want 617210206" % probe)
        check(dove.hash("%Ld", b"Foo@Bar.COM") == 179742195,
              "doveadm: Foo@Bar.COM with %Ld -> 179742195")

        big = pick(rows, 150)
        names = [n for n, _ in big]
        print("# %d names for %%Lu, %d special" % (len(names),
                                                   sum(1 for n in names if n == b"" or
                                                       n[:1] in (b"@", b"-") or
                                                       any(c >= 0x80 for c in n))))
        check(b"" in names, "the empty name is in the sample")
        check(any(n.startswith(b"@") for n in names), "a name starting with '@' is sampled")
        check(any(n.startswith(b"-") for n in names), "a name starting with '-' is sampled")
        check(any(any(c >= 0x80 for c in n) for n in names), "a non-ASCII name is sampled")
        compare(dove, ctl, pool, "%Lu", names)
        # The vector file was made by a real director: doveadm must agree.
        theirs = list(pool.map(lambda n: dove.hash("%Lu", n), names))
        bad = [(n, h, t) for (n, h), t in zip(big, theirs) if h != t]
        check(not bad, "vector hashes differ from doveadm: %r" % bad[:3])

        small = [n for n, _ in pick(rows, 24)] + [
            b"Foo@Bar.COM", b"a@b@C", b"@Dom", b"NoDomain", b"trail@", b"x" * 300,
            b"Mixed.Case@Sub.Example.ORG", "\u00c4\u00d6\u00dc@Example.COM".encode()]
        for fmt in ("%u", "%Ld", "%n", "%Ln", "%d", "%Uu", "%Un", "%Ud", "%{user}",
                    "%{username}", "%{domain}", "%L{username}", "%n@%d", "x%Lu-",
                    "%%%u", "%Ln-%Ud", "%u%u", "%LUu", "{%Ld}", "literal"):
            compare(dove, ctl, pool, fmt, small)

        # Master separator: postmuxctl cuts, doveadm is given the cut name.
        cut = [b"user1", b"Foo@Bar.COM", b"", b"@x", b"a@b@C"]
        compare(dove, ctl, pool, "%Lu", [n + b"*master" for n in cut], "*", cut)
        compare(dove, ctl, pool, "%Ld", [n + b"*m@other*x" for n in cut], "*", cut)
    print(pmtest.summary())
    return pmtest.status()


if __name__ == "__main__":
    sys.exit(main())
