"""A small ManageSieve client (RFC 5804) for the tests, standard library only.

    c = sieve_client.Client(addr, 4190, timeout=20)
    c.caps                  # the greeting's capabilities: {"IMPLEMENTATION": ...}
    r = c.authenticate_plain("user", "pass", form="quoted")
    r.status, r.code, r.text  # "OK", None, "Logged in."
    c.capability()          # after the login: the backend's capabilities
    c.putscript("name", b"...")  /  c.getscript("name")  /  c.listscripts()
    c.noop()  /  c.logout()

Every command returns a Response (status OK/NO/BYE, the response code, the
text, the raw final line and the data lines before it) and raises nothing
on NO or BYE; a closed connection raises EOFError, a timeout socket.timeout.
AUTHENTICATE "PLAIN" in the forms the tests use (form=):
  quoted       the initial response as a quoted string
  literal      the initial response as a non-synchronising literal {n+}
  sync         the initial response as a literal {n} (sent without waiting:
               a ManageSieve server sends no continuation for literals)
  cont         no initial response: the server's challenge ("" for PLAIN),
               then the response as a quoted string on a line of its own
  cont-literal the same, the response as a literal {n+}
Strings the server sends are read as RFC 5804 says: quoted ("..." with \\
and \" escapes) or literals {n} / {n+}, whose data may span lines.
"""

import base64
import socket

FORMS = ("quoted", "literal", "sync", "cont", "cont-literal")


class Response:
    """A final response (OK, NO or BYE) and the data lines before it."""

    def __init__(self, status, code, text, raw, data):
        self.status, self.code, self.text, self.raw, self.data = status, code, text, raw, data

    def __repr__(self):
        return "Response(%r)" % self.raw

    @property
    def ok(self):
        return self.status == "OK"


def quote(s):
    """@s (str or bytes) as a quoted string, bytes."""
    if isinstance(s, str):
        s = s.encode()
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class Client:
    def __init__(self, host, port=4190, timeout=20, source=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=source)
        self.f = self.sock.makefile("rb")
        self.greeting = self.read_response()
        self.caps = self.caps_of(self.greeting)

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass

    # ---- reading ---------------------------------------------------------

    def _line(self):
        line = self.f.readline()
        if not line:
            raise EOFError("connection closed")
        if not line.endswith(b"\n"):
            raise EOFError("connection closed in a line: %r" % line)
        return line[:-2] if line.endswith(b"\r\n") else line[:-1]

    def read_tokens(self):
        """One response line as tokens, literals read in: a list of
        ("atom", bytes), ("string", bytes), ("code", bytes: the text between
        the parentheses). Also returns the raw line (literal data kept)."""
        toks, raw = [], b""
        line = self._line()
        while True:
            raw += line
            i, n = 0, len(line)
            literal = None
            while i < n:
                c = line[i:i + 1]
                if c == b" ":
                    i += 1
                elif c == b'"':
                    j, out = i + 1, bytearray()
                    while j < n and line[j:j + 1] != b'"':
                        if line[j:j + 1] == b"\\" and j + 1 < n:
                            j += 1
                        out += line[j:j + 1]
                        j += 1
                    toks.append(("string", bytes(out)))
                    i = j + 1
                elif c == b"(":
                    j = line.index(b")", i)
                    toks.append(("code", line[i + 1:j]))
                    i = j + 1
                elif c == b"{" and line.endswith(b"}"):
                    literal = int(line[i + 1:-1].rstrip(b"+"))
                    break
                else:
                    j = line.find(b" ", i)
                    j = n if j < 0 else j
                    toks.append(("atom", line[i:j]))
                    i = j
            if literal is None:
                return toks, raw
            data = self.f.read(literal)
            if len(data) != literal:
                raise EOFError("connection closed in a literal")
            toks.append(("string", data))
            raw += b"\r\n" + data
            line = self._line()

    def read_response(self):
        """Data lines up to the final OK / NO / BYE line."""
        data = []
        while True:
            toks, raw = self.read_tokens()
            if toks and toks[0][0] == "atom" and toks[0][1].upper() in (b"OK", b"NO", b"BYE"):
                code = text = None
                for kind, v in toks[1:]:
                    if kind == "code" and code is None:
                        code = v.decode("utf-8", "replace")
                    elif kind == "string" and text is None:
                        text = v.decode("utf-8", "replace")
                return Response(toks[0][1].upper().decode(), code, text,
                                raw.decode("utf-8", "replace"), data)
            data.append(toks)

    @staticmethod
    def caps_of(resp):
        caps = {}
        for toks in resp.data:
            if toks and toks[0][0] == "string":
                name = toks[0][1].decode().upper()
                caps[name] = toks[1][1].decode() if len(toks) > 1 else ""
        return caps

    # ---- commands --------------------------------------------------------

    def send(self, b):
        self.sock.sendall(b)

    def command(self, b):
        self.send(b + b"\r\n")
        return self.read_response()

    def authenticate_plain(self, user, password, form="quoted", authzid=""):
        msg = base64.b64encode(("%s\0%s\0%s" % (authzid, user, password)).encode())
        if form == "quoted":
            return self.command(b'AUTHENTICATE "PLAIN" ' + quote(msg))
        if form == "literal":
            return self.command(b'AUTHENTICATE "PLAIN" {%d+}\r\n' % len(msg) + msg)
        if form == "sync":
            return self.command(b'AUTHENTICATE "PLAIN" {%d}\r\n' % len(msg) + msg)
        if form in ("cont", "cont-literal"):
            self.send(b'AUTHENTICATE "PLAIN"\r\n')
            toks, raw = self.read_tokens()
            if toks != [("string", b"")]:
                # Not the challenge: a final response (or junk).
                return Response("?", None, None, raw.decode("utf-8", "replace"), [toks])
            if form == "cont":
                return self.command(quote(msg))
            return self.command(b"{%d+}\r\n" % len(msg) + msg)
        raise ValueError(form)

    def capability(self):
        r = self.command(b"CAPABILITY")
        return self.caps_of(r), r

    def noop(self):
        return self.command(b"NOOP")

    def logout(self):
        r = self.command(b"LOGOUT")
        self.close()
        return r

    def putscript(self, name, script):
        return self.command(b"PUTSCRIPT " + quote(name) + b" {%d+}\r\n" % len(script) + script)

    def getscript(self, name):
        """(script bytes or None, Response)."""
        r = self.command(b"GETSCRIPT " + quote(name))
        if r.ok and len(r.data) == 1 and len(r.data[0]) == 1 and r.data[0][0][0] == "string":
            return r.data[0][0][1], r
        return None, r

    def listscripts(self):
        """([(name, active)], Response)."""
        r = self.command(b"LISTSCRIPTS")
        out = []
        for toks in r.data:
            if toks and toks[0][0] == "string":
                out.append((toks[0][1].decode(), any(k == "atom" and v.upper() == b"ACTIVE"
                                                     for k, v in toks[1:])))
        return out, r

    def setactive(self, name):
        return self.command(b"SETACTIVE " + quote(name))


def big_script(user, size):
    """A Sieve script of @size bytes or a little more that Pigeonhole
    compiles (PUTSCRIPT checks it), the same for the same arguments: 8-bit
    (UTF-8) text in comments and strings, CRLF lines and, inside a bracket
    comment, bare LF lines, and one 4 KiB line."""
    out = [b'require ["fileinto", "variables"];\r\n',
           b"# the big script of %s: \xc3\xa9t\xc3\xa9, \xe2\x82\xac, \xf0\x9f\x93\xab\r\n"
           % user.encode(),
           b"/* bare LF lines:\n" + b"".join(b"  line %d \xc3\xbc\n" % i for i in range(20)) +
           b"*/\r\n",
           b"# " + b"".join(b"%04d." % i for i in range(800)) + b"\r\n"]
    n, i = sum(map(len, out)), 0
    while n < size:
        rule = (b'if header :contains "subject" "token-%05d-\xc3\xbc" {\r\n'
                b'  set "v" "%s";\r\n  fileinto "INBOX.f%05d";\r\n}\r\n'
                % (i, b"x" * (i % 61), i))
        out.append(rule)
        n += len(rule)
        i += 1
    return b"".join(out)
