#!/usr/bin/env python3
"""corpus.py: hostile requests and responses through shunt, from data files.

Runs a strict peer (a thread here) that records every request it parses and
flags what it finds ambiguous, then plays each case of
tests/corpus/requests.txt and tests/corpus/responses.txt against shunt and
prints TAP.  Per case: the status the client saw, how many requests reached
the peer, that the peer found none ambiguous or smuggled, that the next
request on the same client connection (when it stayed open) and on a fresh
one is answered as itself (no desync), and that the worker survived.

Usage: corpus.py CORPUS_DIR PEER_PORT_FILE SHUNT_INFO_FILE
  PEER_PORT_FILE   written with the peer's port once it listens
  SHUNT_INFO_FILE  waited for: "REQ_PORT RESP_PORT MASTER_PID"

Case lines are TAB-separated; '#' starts a comment line.  Bytes use the
escapes \\r \\n \\t \\0 \\\\ \\xHH, and {TEXT*N} repeats TEXT N times.
  requests.txt:  STATUSES  REACHES  NAME  BYTES
  responses.txt: STATUS  OUTCOME  NAME  METHOD  BYTES
STATUSES is a comma-separated list (one per pipelined request); OUTCOME is
"ok" (a whole response) or "trunc" (cut short by a close: the response
head had gone out).  A response case's BYTES are what the peer answers to
"METHOD /resp/LINE"; a trailing {close} makes the peer close after them.
"""

import os
import re
import socket
import sys
import threading
import time

TIMEOUT = 5.0
TCHAR = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
VCHAR_VALUE = re.compile(rb"^[\t\x20-\x7e\x80-\xff]*$")
HOST = re.compile(rb"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)"
                  rb"(:[0-9]*)?$")


def unescape(text):
    def rep(m):
        return m.group(1) * int(m.group(2))
    while True:                 # innermost first: repeats may nest
        done = re.sub(r"\{([^{}]+?)\*(\d+)\}", rep, text)
        if done == text:
            break
        text = done
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x":
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0",
                    "\\": b"\\"}.get(nxt, b"\\" + nxt.encode())
            i += 2
            continue
        out += ch.encode("utf-8")
        i += 1
    return bytes(out)


def load(path, ncols):
    cases = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != ncols:
                raise SystemExit("%s:%d: %d columns, want %d" %
                                 (path, lineno, len(cols), ncols))
            cases.append((lineno, cols))
    return cases


# --- the peer -----------------------------------------------------------

class Peer:
    """A strict HTTP/1.1 origin: records requests, flags ambiguity."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log = []          # (path, host, flags) per complete request
        self.scripts = {}      # "/resp/NAME" -> (bytes, close)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def record(self, path, host, flags):
        with self.lock:
            self.log.append((path, host, flags))

    def accept(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(c,),
                             daemon=True).start()

    def serve(self, c):
        c.settimeout(30)
        buf = b""
        try:
            while True:
                req, buf = self.read_request(c, buf)
                if req is None:
                    return
                path, host, flags = req
                self.record(path, host, flags)
                if flags:
                    return      # framing we cannot trust: hang up
                script = self.scripts.get(path.split("?")[0])
                if script is not None:
                    data, close = script
                    c.sendall(data)
                    if close:
                        return
                    continue
                body = ("path=%s\n" % path).encode("latin-1")
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                          % len(body) + body)
        except OSError:
            return
        finally:
            c.close()

    @staticmethod
    def recv_more(c, buf):
        d = c.recv(65536)
        if not d:
            raise EOFError
        return buf + d

    def read_request(self, c, buf):
        """One request: ((path, host, flags), rest) or (None, rest)."""
        try:
            while b"\r\n\r\n" not in buf:
                if len(buf) > 1 << 20:
                    self.record("?", "", ["head too large"])
                    return None, b""
                buf = self.recv_more(c, buf)
        except (EOFError, OSError):
            return None, b""
        head, buf = buf.split(b"\r\n\r\n", 1)
        flags = []
        lines = head.split(b"\r\n")
        if b"\n" in head.replace(b"\r\n", b"") or b"\r" in \
                head.replace(b"\r\n", b""):
            flags.append("bare CR or LF")
        m = re.match(rb"^([A-Z]+) (\S+) HTTP/1\.1$", lines[0])
        if not m:
            self.record(lines[0].decode("latin-1"), "", ["request line"])
            return None, b""
        path = m.group(2).decode("latin-1")
        if not (path.startswith("/") or path == "*"):
            flags.append("target not origin-form")
        fields = []
        for ln in lines[1:]:
            if ln[:1] in (b" ", b"\t"):
                flags.append("obs-fold")
                continue
            name, sep, value = ln.partition(b":")
            if not sep or not TCHAR.match(name):
                flags.append("field name %r" % name)
                continue
            value = value.strip(b" \t")
            if not VCHAR_VALUE.match(value):
                flags.append("field value %r" % value)
            fields.append((name.lower(), value))
        get = lambda n: [v for k, v in fields if k == n]
        hosts = get(b"host")
        if len(hosts) != 1 or not HOST.match(hosts[0]):
            flags.append("Host %r" % hosts)
        if not get(b"x-forwarded-for"):
            flags.append("no X-Forwarded-For: not a head shunt built")
        if "smuggle" in path:
            flags.append("smuggled")
        te = b",".join(get(b"transfer-encoding"))
        cl = get(b"content-length")
        try:
            if te and cl:
                flags.append("Content-Length and Transfer-Encoding")
                return (path, "", flags), b""
            if te:
                codings = [x.strip().lower() for x in te.split(b",")]
                if codings[-1] != b"chunked" or \
                        codings.count(b"chunked") != 1:
                    flags.append("Transfer-Encoding %r" % te)
                    return (path, "", flags), b""
                buf = self.read_chunked(c, buf)
            elif cl:
                if len(cl) != 1 or not cl[0].isdigit():
                    flags.append("Content-Length %r" % cl)
                    return (path, "", flags), b""
                n = int(cl[0])
                while len(buf) < n:
                    buf = self.recv_more(c, buf)
                buf = buf[n:]
        except ValueError as e:
            flags.append(str(e))
            return (path, "", flags), b""
        except (EOFError, OSError):
            return None, b""    # incomplete: never reached the app
        host = hosts[0].decode("latin-1") if hosts else ""
        return (path, host, flags), buf

    def read_chunked(self, c, buf):
        while True:
            while b"\r\n" not in buf:
                buf = self.recv_more(c, buf)
            line, buf = buf.split(b"\r\n", 1)
            size = line.split(b";", 1)[0]
            if not re.match(rb"^[0-9A-Fa-f]+$", size):
                raise ValueError("chunk size %r" % line[:40])
            n = int(size, 16)
            if n == 0:
                break
            while len(buf) < n + 2:
                buf = self.recv_more(c, buf)
            if buf[n:n + 2] != b"\r\n":
                raise ValueError("chunk data without CRLF")
            buf = buf[n + 2:]
        while True:             # trailer section
            while b"\r\n" not in buf:
                buf = self.recv_more(c, buf)
            line, buf = buf.split(b"\r\n", 1)
            if line == b"":
                return buf


# --- the client ---------------------------------------------------------

class Closed(Exception):
    """The connection ended: "eof" between responses, "trunc" inside one
    (status: of the response that was cut short, if its head came)."""

    def __init__(self, what, status=None):
        super().__init__(what)
        self.what = what
        self.status = status


def read_response(s, buf, method):
    """One final response: (status, body, closed, rest); 1xx skipped.
    Raises Closed("trunc") when the connection ends inside a response."""
    while True:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                raise Closed("eof" if not buf else "trunc")
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        m = re.match(rb"^HTTP/1\.[01] (\d{3}) ", lines[0] + b" ")
        if not m:
            raise ValueError("status line %r" % lines[0][:60])
        status = int(m.group(1))
        fields = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            fields.setdefault(k.strip().lower(), []).append(v.strip())
        if 100 <= status < 200:
            continue
        conn = b",".join(fields.get(b"connection", [])).lower()
        closing = b"close" in conn
        if method == "HEAD" or status in (204, 304):
            return status, b"", closing, buf
        try:
            return read_body(s, buf, status, fields, closing)
        except Closed:
            raise Closed("trunc", status)


def read_body(s, buf, status, fields, closing):
    """The body framed as fields say: (status, body, closed, rest)."""
    if b"chunked" in b",".join(fields.get(b"transfer-encoding", [])):
        body = b""
        while True:
            while b"\r\n" not in buf:
                d = s.recv(65536)
                if not d:
                    raise Closed("trunc")
                buf += d
            line, buf = buf.split(b"\r\n", 1)
            n = int(line.split(b";")[0], 16)
            if n == 0:
                while not (buf.startswith(b"\r\n") or
                           b"\r\n\r\n" in buf):
                    d = s.recv(65536)
                    if not d:
                        raise Closed("trunc")
                    buf += d
                buf = buf[2:] if buf.startswith(b"\r\n") else \
                    buf.split(b"\r\n\r\n", 1)[1]
                return status, body, closing, buf
            while len(buf) < n + 2:
                d = s.recv(65536)
                if not d:
                    raise Closed("trunc")
                buf += d
            body += buf[:n]
            buf = buf[n + 2:]
    if b"content-length" in fields:
        n = int(fields[b"content-length"][0])
        while len(buf) < n:
            d = s.recv(65536)
            if not d:
                raise Closed("trunc")
            buf += d
        return status, buf[:n], closing, buf[n:]
    while True:             # until close
        d = s.recv(65536)
        if not d:
            return status, buf, True, b""
        buf += d


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def check_request(s, buf, path):
    """GET path on s: is the answer the peer's answer to exactly it?"""
    s.sendall(b"GET %s HTTP/1.1\r\nHost: corpus.test\r\n\r\n" %
              path.encode())
    status, body, _, rest = read_response(s, buf, "GET")
    return status == 200 and body == b"path=%s\n" % path.encode(), \
        (status, body[:80]), rest


class Run:
    def __init__(self, peer, master):
        self.peer = peer
        self.master = master
        self.n = 0
        self.failed = 0
        self.workers = self.worker_pids()

    def worker_pids(self):
        pids = set()
        for t in os.listdir("/proc/%d/task" % self.master):
            with open("/proc/%d/task/%s/children" % (self.master, t)) as f:
                pids.update(f.read().split())
        return pids

    def tap(self, good, desc, why=""):
        self.n += 1
        if good:
            print("ok %d - %s" % (self.n, desc))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, desc))
            if why:
                print("#   %s" % why)
        sys.stdout.flush()

    def case(self, tag, port, data, method, statuses, outcome, reaches):
        """Send data, read len(statuses) answers, then the checks."""
        with self.peer.lock:
            start = len(self.peer.log)
        problems = []
        seen = []
        s = connect(port)
        open_after = False
        buf = b""
        try:
            s.sendall(data)
            for _ in statuses:
                status, _, closing, buf = read_response(s, buf, method)
                seen.append(str(status))
            open_after = not closing
            got_outcome = "ok"
        except Closed as e:
            if e.status is not None:
                seen.append(str(e.status))
            got_outcome = e.what
        except (socket.timeout, ConnectionError) as e:
            got_outcome = type(e).__name__
        except ValueError as e:
            got_outcome = "garbled: %s" % e
        want_outcome = outcome if outcome == "trunc" else "ok"
        if seen != statuses or got_outcome != want_outcome:
            if not (outcome == "trunc" and seen == statuses and
                    got_outcome == "eof"):
                problems.append("client saw %s (%s), want %s (%s)" %
                                (",".join(seen) or "nothing", got_outcome,
                                 ",".join(statuses), want_outcome))
        # The same client connection, if shunt kept it open.
        if open_after:
            try:
                good, what, _ = check_request(s, buf, "/check/same-%s" % tag)
                if not good:
                    problems.append("same connection desync: %r" % (what,))
            except Closed:
                # A response that did not say "close" promised the next
                # answer: a 304 whose Content-Length shunt waited for
                # broke that promise by timing out.
                problems.append("same connection closed without "
                                "Connection: close")
            except (OSError, ValueError) as e:
                problems.append("same connection: %s" % e)
        s.close()
        # A fresh client connection: it takes a pooled upstream one.
        try:
            s = connect(port)
            good, what, _ = check_request(s, b"", "/check/fresh-%s" % tag)
            s.close()
            if not good:
                problems.append("fresh connection desync: %r" % (what,))
        except (OSError, ValueError, Closed) as e:
            problems.append("fresh connection: %s" % e)
        with self.peer.lock:
            got = self.peer.log[start:]
        mine = [g for g in got if not g[0].startswith("/check/")]
        bad = [g for g in got if g[2]]
        if reaches is not None and len(mine) != reaches:
            problems.append("%d requests reached the peer, want %d: %r" %
                            (len(mine), reaches, mine))
        if bad:
            problems.append("the peer saw ambiguity: %r" % bad)
        workers = self.worker_pids()
        if workers != self.workers:
            problems.append("workers changed: %s -> %s" %
                            (sorted(self.workers), sorted(workers)))
            self.workers = workers
        return problems


def main():
    corpus, peer_port_file, info_file = sys.argv[1:4]
    peer = Peer()
    reqs = load(os.path.join(corpus, "requests.txt"), 4)
    resps = load(os.path.join(corpus, "responses.txt"), 5)
    for lineno, (_, _, _, _, data) in resps:
        raw = unescape(data)
        close = raw.endswith(b"{close}")
        peer.scripts["/resp/%d" % lineno] = (raw[:-7] if close else raw,
                                             close)
    with open(peer_port_file + ".tmp", "w") as f:
        f.write("%d\n" % peer.port)
    os.rename(peer_port_file + ".tmp", peer_port_file)
    for _ in range(200):
        if os.path.exists(info_file) and open(info_file).read().strip():
            break
        time.sleep(0.05)
    req_port, resp_port, master = map(int, open(info_file).read().split())
    run = Run(peer, master)

    for lineno, (statuses, reaches, name, data) in reqs:
        problems = run.case("req%d" % lineno, req_port, unescape(data),
                            data.split(" ", 1)[0], statuses.split(","),
                            "ok", int(reaches))
        run.tap(not problems, "request %s: %s" % (name, statuses),
                "; ".join(problems))
    for lineno, (status, outcome, name, method, _) in resps:
        data = b"%s /resp/%d HTTP/1.1\r\nHost: corpus.test\r\n\r\n" % (
            method.encode(), lineno)
        problems = run.case("resp%d" % lineno, resp_port, data, method,
                            [status], outcome, 1)
        run.tap(not problems, "response %s: %s %s" % (name, status, outcome),
                "; ".join(problems))
    run.tap(len(reqs) >= 100, "at least 100 request cases (%d)" % len(reqs))
    run.tap(len(resps) >= 40, "at least 40 response cases (%d)" % len(resps))
    print("1..%d" % run.n)
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
