# blackhole.py PORTFILE SECONDS: a peer that never completes a handshake,
# for tests/integration/lib.sh and tests/bench/failover.sh.  A listener
# with backlog 0 that never accepts, its accept queue filled by connections
# of its own, so the kernel drops every further SYN.  Writes its port to
# PORTFILE (atomically) once it is full, then lives SECONDS.
import os
import socket
import sys
import time

portfile, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(3):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", port))
    fill.append(c)
time.sleep(0.2)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % port)
os.rename(portfile + ".tmp", portfile)
time.sleep(seconds)
