#!/usr/bin/env python3
"""chaoslib.py: the load, the killer and the fd census for chaos.sh.

  load HOST PORT OUT.json [--conns N] [--seconds S] [--pause MS]
      N keep-alive connections, each sending GET / in a loop for S seconds
      (a pause of MS between requests keeps the load modest) and recording
      every request: its outcome (200, another status, or how the
      connection failed), when, on which connection, and which backend
      answered (X-Backend).  A failed connection is reopened.
  kill MASTER PORT OUT.jsonl [--seconds S] [--every S] [--min-age S]
      Every S seconds SIGKILL one of MASTER's workers, chosen at random
      among those older than --min-age (a younger one would be respawned
      with a back-off, which is not what is tested here), and record when,
      which pid, and how many client connections (of PORT) it held.
  fds PID PORT BACKEND_PORTS
      A census of PID's descriptors as JSON: client connections (local port
      PORT), upstream connections (remote port in BACKEND_PORTS, by TCP
      state), and everything else.
  conns PORT PID...
      The number of client connections (local port PORT) the PIDs hold,
      in one pass over the TCP tables.
"""
import argparse
import json
import os
import random
import socket
import sys
import threading
import time

TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV",
    "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE",
    "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}


def tcp_table():
    """inode -> (local port, remote port, state name), IPv4 and IPv6."""
    table = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    p = line.split()
                    lport = int(p[1].rsplit(":", 1)[1], 16)
                    rport = int(p[2].rsplit(":", 1)[1], 16)
                    table[p[9]] = (lport, rport, TCP_STATES.get(p[3], p[3]))
        except OSError:
            pass
    return table


def fd_targets(pid):
    out = []
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            out.append(os.readlink(os.path.join(d, fd)))
        except OSError:
            pass  # closed meanwhile
    return out


def census(pid, port, backend_ports):
    table = tcp_table()
    c = {"total": 0, "client": 0, "upstream": {}, "listen": 0, "other": 0,
         "other_sockets": 0}
    for t in fd_targets(pid):
        c["total"] += 1
        if not t.startswith("socket:["):
            c["other"] += 1
            continue
        e = table.get(t[8:-1])
        if e is None:
            c["other_sockets"] += 1  # not TCP: unix, netlink...
        elif e[2] == "LISTEN":
            c["listen"] += 1
        elif e[0] == port:
            c["client"] += 1
        elif e[1] in backend_ports:
            c["upstream"][e[2]] = c["upstream"].get(e[2], 0) + 1
        else:
            c["other_sockets"] += 1
    return c


def client_conns(pid, port):
    try:
        return census(pid, port, set())["client"]
    except OSError:
        return -1


# --- load -----------------------------------------------------------------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []      # {t (seen), start, conn, kind, reused}
        self.by_second = {}     # int(t) -> {backend: n}
        self.requests = 0


def read_response(f):
    """(status, headers) after reading the whole body; raises on trouble."""
    line = f.readline(65536)
    if not line:
        raise EOFError("eof before the status line")
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError("bad status line %r" % line[:80])
    status = int(parts[1])
    headers = {}
    while True:
        h = f.readline(65536)
        if not h:
            raise EOFError("eof in the header")
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.partition(b":")
        headers[k.strip().lower().decode("latin-1")] = v.strip().decode(
            "latin-1")
    if "transfer-encoding" in headers:
        while True:
            size = int(f.readline(1024).split(b";")[0], 16)
            data = f.read(size + 2)
            if len(data) != size + 2:
                raise EOFError("eof in a chunk")
            if size == 0:
                break
    else:
        n = int(headers.get("content-length", "0"))
        if n and len(f.read(n)) != n:
            raise EOFError("eof in the body")
    return status, headers


def failure_kind(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, BrokenPipeError):
        return "epipe"
    if isinstance(e, EOFError):
        return "eof"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    return type(e).__name__


def load_conn(idx, host, port, path, deadline, pause, timeout, st):
    req = ("GET %s HTTP/1.1\r\nHost: chaos\r\n\r\n" % path).encode()
    sock = f = None
    reused = False
    while time.monotonic() < deadline:
        t = time.time()
        try:
            if sock is None:
                sock = socket.create_connection((host, port), timeout=timeout)
                f = sock.makefile("rb")
                reused = False
            sock.sendall(req)
            status, headers = read_response(f)
        except Exception as e:  # every way a request can fail is counted
            with st.lock:
                st.requests += 1
                st.failures.append({"t": time.time(), "start": t,
                                    "conn": idx, "kind": failure_kind(e),
                                    "reused": reused})
            if sock is not None:
                f.close()
                sock.close()
            sock = f = None
            time.sleep(0.01)
            continue
        with st.lock:
            st.requests += 1
            if status == 200:
                st.ok += 1
                b = headers.get("x-backend", "?")
                sec = st.by_second.setdefault(int(t), {})
                sec[b] = sec.get(b, 0) + 1
            else:
                st.failures.append({"t": time.time(), "start": t,
                                    "conn": idx, "kind": "status %d" % status,
                                    "reused": reused})
        reused = True
        if headers.get("connection", "").lower() == "close":
            f.close()
            sock.close()
            sock = f = None
        if pause:
            time.sleep(pause)
    if sock is not None:
        f.close()
        sock.close()


def cmd_load(a):
    st = Stats()
    deadline = time.monotonic() + a.seconds
    threads = [threading.Thread(target=load_conn, daemon=True,
                                args=(i, a.host, a.port, a.path, deadline,
                                      a.pause / 1000.0, a.timeout, st))
               for i in range(a.conns)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        # Bounded: a request ends within its socket timeout after the
        # deadline.
        t.join(a.seconds + 2 * a.timeout + 5)
    with st.lock:
        res = {"start": start, "end": time.time(), "requests": st.requests,
               "ok": st.ok, "failures": st.failures,
               "by_second": {str(k): v for k, v in
                             sorted(st.by_second.items())}}
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f)
    os.rename(tmp, a.out)


# --- kill -----------------------------------------------------------------

def children(ppid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        fields = s.rsplit(")", 1)[1].split()
        # fields[0] is the state, [1] the ppid, [19] the start time
        if int(fields[1]) == ppid and fields[0] not in ("Z", "X"):
            kids.append((int(d), int(fields[19])))
    return kids


def uptime_ticks():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) * os.sysconf("SC_CLK_TCK")


def cmd_kill(a):
    rng = random.Random(a.seed)
    hz = os.sysconf("SC_CLK_TCK")
    end = time.monotonic() + a.seconds
    nxt = time.monotonic() + a.every
    with open(a.out, "w") as out:
        while nxt <= end:
            time.sleep(max(0.0, nxt - time.monotonic()))
            nxt += a.every
            now = uptime_ticks()
            old = [pid for pid, st in children(a.master)
                   if (now - st) / hz >= a.min_age]
            if not old:
                out.write(json.dumps({"t": time.time(), "pid": None}) + "\n")
                out.flush()
                continue
            pid = rng.choice(old)
            conns = client_conns(pid, a.port)
            t = time.time()
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                continue
            out.write(json.dumps({"t": t, "pid": pid, "conns": conns}) + "\n")
            out.flush()


def cmd_fds(a):
    ports = {int(p) for p in a.backend_ports.split(",") if p}
    print(json.dumps(census(a.pid, a.port, ports), sort_keys=True))


def cmd_conns(a):
    table = tcp_table()
    n = 0
    for pid in a.pids:
        try:
            targets = fd_targets(pid)
        except OSError:
            continue
        for t in targets:
            e = table.get(t[8:-1]) if t.startswith("socket:[") else None
            if e is not None and e[2] != "LISTEN" and e[0] == a.port:
                n += 1
    print(n)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("load")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("out")
    p.add_argument("--path", default="/")
    p.add_argument("--conns", type=int, default=8)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--pause", type=float, default=2, help="ms")
    p.add_argument("--timeout", type=float, default=5)
    p.set_defaults(fn=cmd_load)
    p = sub.add_parser("kill")
    p.add_argument("master", type=int)
    p.add_argument("port", type=int)
    p.add_argument("out")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--every", type=float, default=1)
    p.add_argument("--min-age", type=float, default=1.5)
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(fn=cmd_kill)
    p = sub.add_parser("fds")
    p.add_argument("pid", type=int)
    p.add_argument("port", type=int)
    p.add_argument("backend_ports")
    p.set_defaults(fn=cmd_fds)
    p = sub.add_parser("conns")
    p.add_argument("port", type=int)
    p.add_argument("pids", type=int, nargs="+")
    p.set_defaults(fn=cmd_conns)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
