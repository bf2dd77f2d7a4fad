#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
#
# test_client_hostile.py -- `daxo stat` and `daxo top` against a fake daxod
# that answers badly: replies of the wrong JSON shape, an oversized length
# header, a connection closed mid-reply, a server that never answers. Each
# must end with exit code 1 and a message on stderr, never a crash (exit
# code 128+N) or a hang.
#
# usage: test_client_hostile.py DAXO_TOOL
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading

tool = sys.argv[1]
fails = 0


def serve(path, answer):
    """accept one client, read one request frame, call answer(conn)"""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        with conn:
            hdr = b''
            while len(hdr) < 4:
                hdr += conn.recv(4 - len(hdr))
            n = struct.unpack('<I', hdr)[0]
            got = 0
            while got < n:
                got += len(conn.recv(n - got))
            answer(conn)
        srv.close()

    t = threading.Thread(target=run)
    t.start()
    return t


def frame(text):
    b = text.encode()
    return lambda c: c.sendall(struct.pack('<I', len(b)) + b)


def expect_fail(name, cmd, answer, want_err):
    global fails
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 's')
        t = serve(path, answer)
        p = subprocess.run([tool, cmd, '--socket', path]
                           + (['-n', '1'] if cmd == 'top' else []),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, errors='replace')
        t.join()
    if p.returncode != 1 or want_err not in p.stderr:
        fails += 1
        print(f'FAIL: {cmd} {name}: exit {p.returncode}, stderr '
              f'{p.stderr.strip()!r} (want 1 and {want_err!r})')
    else:
        print(f'ok: {cmd} {name}')


shapes = [
    ('devices-not-array', '{"ok":true,"devices":5}'),
    ('pools-not-array', '{"ok":true,"pools":"x"}'),
    ('pools-null', '{"ok":true,"pools":null}'),
    ('devices-null', '{"ok":true,"devices":null}'),
    ('heat-not-array', '{"ok":true,"pools":[{"heat":7}]}'),
    ('heat-null', '{"ok":true,"pools":[{"heat":null}]}'),
    ('not-an-object', '[1,2]'),
]
for cmd in ('stat', 'top'):
    for name, text in shapes:
        expect_fail(name, cmd, frame(text), 'unreadable reply')
    expect_fail('oversized-header', cmd,
                lambda c: c.sendall(struct.pack('<I', 0xffffffff)),
                'Message too long')
    expect_fail('closed-mid-reply', cmd,
                lambda c: c.sendall(struct.pack('<I', 100) + b'{"ok":tr'),
                'Connection reset')

# a server that reads the request and never answers (it waits for the
# client to hang up): the client's deadline (5 s in stat.c) ends it; how
# long it took is not asserted
expect_fail('never-answers', 'stat', lambda c: c.recv(1), 'timed out')

print(f'{fails} failure(s)')
sys.exit(1 if fails else 0)
