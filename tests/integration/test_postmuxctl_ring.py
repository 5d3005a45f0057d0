#!/usr/bin/env python3
"""postmuxctl ring: placement, what-if moves and errors, end to end.

Usage: test_postmuxctl_ring.py <path to postmuxctl>   (env PM_TESTDATA)
Exit status: 0 pass, 1 fail, 77 skip (reason on stderr).

Oracles:
  * tests/data/ring-vectors.tsv, produced by a real Dovecot 2.3.19.1
    director: every output row must equal the vector row byte for byte;
  * the Python model of spec sections 1.1-1.3 in pmtest.py (hashlib MD5,
    net_ip_cmp order, Dovecot's binary search), first checked against the
    same vectors, then used for what-if backend sets the vectors do not
    cover;
  * two plain runs of postmuxctl itself, against which --to-backends must
    add up.
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from pmtest import (Ring, check, load_vectors, parse_spec, placements,  # noqa: E402
                    run_ring, stdin_of, user_hash)

SEED = 20231128


def tag_for(spec):
    """The tag of a vector scenario whose hosts all share one tag."""
    tags = {h["tag"] for h in parse_spec(spec).values()}
    if "" not in tags and len(tags) == 1:
        return tags.pop()
    return ""


def test_vectors(ctl, scenarios):
    check(len(scenarios) == 3, "3 scenarios in the vector file")
    for name, spec, rows in scenarios:
        check(len(rows) == 1000, "scenario %s has 1000 rows (%d)" % (name, len(rows)))
        tag = tag_for(spec)
        args = ["--backends", spec] + (["--tag", tag] if tag else [])
        rc, out, err = run_ring(ctl, args, stdin_of([r[0] for r in rows]))
        check(rc == 0 and err == b"", "scenario %s: exit %d, stderr %r" % (name, rc, err))
        want = [b"%s\t%d\t%s" % (r[0], r[1], r[2].encode()) for r in rows]
        got = out.split(b"\n")
        check(got[-1] == b"", "scenario %s: output ends with a newline" % name)
        got = got[:-1]
        check(len(got) == len(want), "scenario %s: %d lines, want %d" % (name, len(got),
                                                                         len(want)))
        bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
        check(not bad, "scenario %s: %d rows differ, first %r" % (name, len(bad),
                                                                 bad[:1]))
        # The Python model must agree with the real director too, or it is
        # no oracle for the what-if cases below.
        ring = Ring(parse_spec(spec), tag)
        mbad = [r for r in rows
                if user_hash(r[0]) != r[1] or ring.lookup_hash(r[1]) != r[2]]
        check(not mbad, "scenario %s: the Python model disagrees on %d rows, first %r"
              % (name, len(mbad), mbad[:1]))


def parse_moves(out):
    lines = out.split(b"\n")
    if not check(lines[-1] == b"", "--to-backends output ends with a newline"):
        return None, None
    pairs, total = [], None
    for line in lines[:-1]:
        f = line.decode().split("\t")
        if not check(len(f) == 3, "--to-backends line %r has 3 fields" % line):
            return None, None
        if f[0] == "total":
            check(total is None, "one total line")
            total = (int(f[1]), int(f[2]))
        else:
            check(total is None, "total line comes last")
            pairs.append((f[0], f[1], int(f[2])))
    check(total is not None, "--to-backends prints a total line")
    return pairs, total


def expected_moves(before, after):
    counts = {}
    for (h1, a), (h2, b) in zip(before, after):
        check(h1 == h2, "same hash in both runs")
        if a != b:
            counts[(a, b)] = counts.get((a, b), 0) + 1
    return sorted((a, b, c) for (a, b), c in counts.items())


def test_to_backends(ctl, names):
    cases = [
        # Two hosts drop to 0 vhosts: only their users move (subset property).
        ("10.0.0.1-10.0.0.5", "10.0.0.1=100 10.0.0.2=0 10.0.0.3=0 10.0.0.4 10.0.0.5",
         {"10.0.0.2", "10.0.0.3"}, {"10.0.0.1", "10.0.0.4", "10.0.0.5"}),
        # A host is added: users only move to it.
        ("10.0.0.1-10.0.0.5", "10.0.0.1-10.0.0.6", None, {"10.0.0.6"}),
        # A host goes down.
        ("10.0.0.1-10.0.0.5", "10.0.0.1-10.0.0.4 10.0.0.5:down",
         {"10.0.0.5"}, {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}),
        # Weights change both ways: no subset property, counts must still add up.
        ("10.0.0.1=100 10.0.0.2=37 2001:db8::1=50", "10.0.0.1=20 10.0.0.2=300 2001:db8::1=50",
         None, None),
        # Everything down: every user "moves" to no backend.
        ("10.0.0.1-10.0.0.3", "10.0.0.1-10.0.0.3:down", None, {""}),
        # Identical sets: nothing moves.
        ("10.0.0.1-10.0.0.5", "10.0.0.5 10.0.0.4 10.0.0.3 10.0.0.2 10.0.0.1", set(), set()),
    ]
    for frm, to, sources, targets in cases:
        before = placements(ctl, frm, names)
        after = placements(ctl, to, names)
        if before is None or after is None:
            continue
        rc, out, err = run_ring(ctl, ["--backends", frm, "--to-backends", to], stdin_of(names))
        if not check(rc == 0 and err == b"", "--to-backends %r: exit %d %r" % (to, rc, err)):
            continue
        pairs, total = parse_moves(out)
        if pairs is None or total is None:
            continue
        want = expected_moves(before, after)
        check(pairs == want, "--to-backends %r -> %r: pairs %r, want %r" % (frm, to, pairs,
                                                                           want))
        moved = sum(c for _, _, c in pairs)
        check(total == (moved, len(names)),
              "--to-backends %r: total %r, want (%d, %d)" % (to, total, moved, len(names)))
        check(pairs == sorted(pairs, key=lambda p: (p[0].encode(), p[1].encode())),
              "--to-backends pairs are sorted")
        for a, b, c in pairs:
            check(a != b and c > 0, "pair %r %r %d is a real move" % (a, b, c))
            if sources is not None:
                check(a in sources, "%r -> %r: users only leave %r" % (frm, to, sources))
            if targets is not None:
                check(b in targets, "%r -> %r: users only go to %r" % (frm, to, targets))
        if sources is not None:
            # Every user of a source host moved (it has no points any more).
            for (_, a), (_, b) in zip(before, after):
                if a in sources:
                    check(a != b, "a user of %s stayed on it" % a)
    # The spec's example: 10.0.0.1-5 to .2/.3 at 0 moves exactly their users.
    before = placements(ctl, "10.0.0.1-10.0.0.5", names)
    if before is not None:
        on23 = sum(1 for _, b in before if b in ("10.0.0.2", "10.0.0.3"))
        rc, out, _ = run_ring(ctl, ["--backends", "10.0.0.1-10.0.0.5", "--to-backends",
                               "10.0.0.1=100 10.0.0.2=0 10.0.0.3=0 10.0.0.4 10.0.0.5"],
                         stdin_of(names))
        last = out.split(b"\n")[-2] if out.endswith(b"\n") else b""
        check(last == b"total\t%d\t%d" % (on23, len(names)),
              "total line %r, want moved=%d users=%d" % (last, on23, len(names)))


def test_model_what_ifs(ctl, names):
    """Backend sets the vectors do not cover, against the Python model."""
    rng = random.Random(SEED)
    print("# what-if specs from random.Random(%d)" % SEED)
    specs = [
        "10.0.0.1",
        "2001:DB8:0:0::1=7 2001:db8::2=1000 10.0.0.1=1",
        "::ffff:10.0.0.1 10.0.0.1",
        "10.0.0.1-10.0.0.3 10.0.0.4:up 10.0.0.5=3:down 2001:db8::ff-2001:db8::101=10",
    ]
    for _ in range(12):
        toks = []
        used = set()
        for _ in range(rng.randint(1, 7)):
            if rng.random() < 0.3:
                ip = "fd00::%x" % rng.randint(1, 0xffff)
            else:
                ip = "10.%d.%d.%d" % (rng.randint(0, 3), rng.randint(0, 3), rng.randint(1, 254))
            if ip in used:
                continue
            used.add(ip)
            tok = ip + "=%d" % rng.choice([0, 1, 2, 50, 100, 333, 1000])
            if rng.random() < 0.2:
                tok += ":down"
            toks.append(tok)
        specs.append(" ".join(toks))
    # Names that are not in the vector file, too.
    extra = [b"", b"@", b"@@", b"a@", b"x" * 300, b"MiXeD@CaSe.Example",
             "\u00e9@\u00c9.fr".encode()]
    sample = names[:300] + extra
    for spec in specs:
        got = placements(ctl, spec, sample)
        if got is None:
            continue
        ring = Ring(parse_spec(spec))
        bad = [(n, g) for n, g in zip(sample, got)
               if g != (user_hash(n), ring.lookup_hash(user_hash(n)))]
        check(not bad, "spec %r: %d names differ from the model, first %r"
              % (spec, len(bad), bad[:1]))


def test_hash_formats(ctl, names):
    sample = names[:200] + [b"Foo@Bar.COM", b"a@b@C", b"User1*master", b"*x", b"a*b@C*d"]
    for fmt, sep in [("%Ld", None), ("%u", None), ("%n", None), ("%Ln@%Ud", None),
                     ("%{username}.%{domain}", None), ("x%%%Lu", None),
                     ("%Lu", "*"), ("%Ld", "*"), ("%u", "@")]:
        extra = ["--hash-format", fmt] + (["--master-separator", sep] if sep else [])
        got = placements(ctl, "10.0.0.1-10.0.0.5", sample, extra)
        if got is None:
            continue
        ring = Ring(parse_spec("10.0.0.1-10.0.0.5"))
        s = sep.encode() if sep else None
        bad = [(n, g) for n, g in zip(sample, got)
               if g != (user_hash(n, fmt, s), ring.lookup_hash(user_hash(n, fmt, s)))]
        check(not bad, "--hash-format %r sep %r: %d differ, first %r"
              % (fmt, sep, len(bad), bad[:1]))
    # Spec 7.1 values.
    got = placements(ctl, "10.0.0.1", [b"Foo@Bar.COM"], ["--hash-format", "%Ld"])
    check(got is not None and got[0][0] == 179742195, "Foo@Bar.COM %%Ld -> %r" % (got,))
    got = placements(ctl, "10.0.0.1", [b"User1*master"], ["--master-separator", "*"])
    check(got is not None and got[0][0] == 617210206, "User1*master sep * -> %r" % (got,))


def test_io_details(ctl):
    # CRLF input and a last line without a newline.
    rc, out, err = run_ring(ctl, ["--backends", "10.0.0.1-10.0.0.5"], b"user1\r\nuser620")
    check(rc == 0 and out == b"user1\t617210206\t10.0.0.3\nuser620\t4294407931\t10.0.0.5\n",
          "CRLF and unterminated last line: %r %r" % (out, err))
    # No input, no output.
    rc, out, err = run_ring(ctl, ["--backends", "10.0.0.1"], b"")
    check(rc == 0 and out == b"" and err == b"", "empty input: %d %r %r" % (rc, out, err))
    rc, out, err = run_ring(ctl, ["--backends", "10.0.0.1", "--to-backends", "10.0.0.2"], b"")
    check(rc == 0 and out == b"total\t0\t0\n", "empty input with --to-backends: %r" % out)
    # An empty ring: the backend column is empty.
    for spec, tag in [("10.0.0.1:down 10.0.0.2=0", None), ("", None),
                      ("10.0.0.1-10.0.0.5", "nosuchtag"), ("10.0.1.1@tagA", None)]:
        args = ["--backends", spec] + (["--tag", tag] if tag else [])
        rc, out, err = run_ring(ctl, args, b"user1\n\nuser620\n")
        check(rc == 0 and out == b"user1\t617210206\t\n\t3558706393\t\nuser620\t4294407931\t\n",
              "empty ring %r tag %r: %d %r %r" % (spec, tag, rc, out, err))
    # --help goes to stdout with status 0.
    rc, out, err = run_ring(ctl, ["--help"])
    check(rc == 0 and out.startswith(b"usage:") and err == b"", "--help: %d %r" % (rc, err))


def test_errors(ctl):
    # Bad backend text: status 2, one line on stderr naming the token (or the
    # limit), nothing on stdout; for --backends and --to-backends alike.
    bad_specs = [("10.0.0.300", "10.0.0.300"), ("10.0.0.1=5000", "1000"),
                 ("10.0.0.1=abc", "10.0.0.1=abc"), ("10.0.0.1-10.0.1.5", "10.0.0.1-10.0.1.5"),
                 ("10.0.0.1 10.0.0.1", "10.0.0.1"), ("10.0.0.1=1001", "1000"),
                 ("10.0.0.1-10.0.0.5 10.0.0.3:up", "10.0.0.3"),
                 ("10.0.0.5-10.0.0.1", "10.0.0.5-10.0.0.1"), ("bogus", "bogus")]
    for spec, needle in bad_specs:
        for args in (["--backends", spec], ["--backends", "10.0.0.1", "--to-backends", spec]):
            rc, out, err = run_ring(ctl, args, b"user1\n")
            lines = [line for line in err.split(b"\n") if line.strip()]
            check(rc == 2, "%r: exit %d, want 2" % (args, rc))
            check(out == b"", "%r: nothing on stdout (%r)" % (args, out))
            check(len(lines) == 1, "%r: one stderr line, got %r" % (args, err))
            check(needle.encode() in err, "%r: stderr %r does not mention %r" % (args, err,
                                                                                 needle))
    # Bad templates and separators: one line.
    for args, needle in [(["--hash-format", "%x"], "%x"), (["--hash-format", "%"], "%"),
                         (["--hash-format", "%{foo}"], "%{foo}"),
                         (["--master-separator", "ab"], "separator"),
                         (["--master-separator", ""], "separator")]:
        rc, out, err = run_ring(ctl, ["--backends", "10.0.0.1"] + args, b"user1\n")
        lines = [line for line in err.split(b"\n") if line.strip()]
        check(rc == 2 and out == b"" and len(lines) == 1 and needle.encode() in err,
              "%r: exit %d, stderr %r" % (args, rc, err))
    # Usage errors print the usage text.
    for args in ([], ["--tag", "x"], ["--backends"], ["--backends", "10.0.0.1", "extra"],
                 ["--backends", "10.0.0.1", "--no-such-option"]):
        rc, out, err = run_ring(ctl, args, b"user1\n")
        check(rc == 2 and out == b"" and b"usage: postmuxctl ring" in err,
              "usage error %r: exit %d, stderr %r" % (args, rc, err[:80]))


def main():
    ctl = pmtest.ctl_from_argv()
    scenarios = load_vectors(pmtest.testdata("ring-vectors.tsv"))
    names = [r[0] for r in scenarios[0][2]]
    test_vectors(ctl, scenarios)
    test_to_backends(ctl, names)
    test_model_what_ifs(ctl, names)
    test_hash_formats(ctl, names)
    test_io_details(ctl)
    test_errors(ctl)
    print(pmtest.summary())
    return pmtest.status()


if __name__ == "__main__":
    sys.exit(main())
