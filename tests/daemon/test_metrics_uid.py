#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
#
# test_metrics_uid.py -- the metrics port's limits per uid. Unprivileged
# uids open slow-loris connections (a request head that never ends) to
# daxod's metrics port: one uid gets metrics_max_connections_per_uid of
# them and no more, all of them together get no more than the slots not
# kept for root, and root's scrape still answers. Then a client that
# sends its request head a byte at a time, never idle long enough for
# libmicrohttpd's idle timeout, is closed once metrics_timeout_s has
# passed since the connection opened. And metrics_reserved_connections
# must be below metrics_max_connections. Last, a daxod whose uid lookups
# all fail (the nodiag shim: NETLINK_SOCK_DIAG denied) counts every
# client, root included, as one "unknown" uid: it gets the per-uid limit,
# gives the slots back when its connections close, and still serves.
#
# Needs root (it creates sockets as other uids with seteuid); exits 77
# (skipped) otherwise. The daemon runs with the default limits: 32
# connections, 4 kept for root, 4 per uid.
#
# usage: test_metrics_uid.py DAXOD NODIAG_SHIM
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

daxod = sys.argv[1]
nodiag_shim = sys.argv[2]
fails = 0
OPTS = ['--no-perf', '--no-tracepoints', '--no-scan']
MAX, RESERVED, PER_UID = 32, 4, 4  # daxod's defaults
HEAD = b'GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Slow: '
# how long to wait for what should happen at once; only a hang (the old
# behaviour) ever reaches it
GUARD = 60


def fail(msg):
    global fails
    fails += 1
    print('FAIL: ' + msg, flush=True)


if os.geteuid() != 0:
    print('SKIP: needs root, to open connections as other uids')
    sys.exit(77)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(d, port, extra='', env=None):
    conf = os.path.join(d, 'daxod.conf')
    sock = os.path.join(d, 'daxod.sock')
    with open(conf, 'w') as f:
        f.write('[daxod]\ntick_ms = 50\nmetrics = 127.0.0.1:%d\n%s'
                % (port, extra))
    p = subprocess.Popen([daxod, '--config', conf, '--socket', sock]
                         + OPTS, env=env)
    # wait for the metrics port to listen (or for daxod to give up)
    while p.poll() is None:
        try:
            socket.create_connection(('127.0.0.1', port)).close()
            break
        except ConnectionRefusedError:
            time.sleep(0.05)
    if p.poll() is not None:
        print('FAIL: daxod exited %d' % p.returncode)
        sys.exit(1)
    return p


def stop(p):
    """SIGTERM to daxod: it must exit 0 (a sanitizer's report is not 0)"""
    p.send_signal(signal.SIGTERM)
    if p.wait() != 0:
        fail('daxod exited %d on SIGTERM' % p.returncode)


def slow_loris(port, uid):
    """a connection of @uid that has sent part of a request head"""
    os.seteuid(uid)  # the socket is owned by the effective uid
    try:
        s = socket.create_connection(('127.0.0.1', port))
    finally:
        os.seteuid(0)
    s.sendall(HEAD)
    return s


def closed_by_daemon(s):
    """wait (at most GUARD s) for the daemon to close @s: True if it did"""
    r, _, _ = select.select([s], [], [], GUARD)
    if not r:
        return False
    try:
        return s.recv(4096) == b''
    except (ConnectionResetError, BrokenPipeError):
        return True


def still_open(s):
    """is @s still open (no EOF, no error, nothing to read)?"""
    s.setblocking(False)
    try:
        s.recv(4096)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def scrape(port):
    """root's GET /metrics: the status line, or why there was none"""
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=GUARD)
        s.sendall(b'GET /metrics HTTP/1.1\r\nHost: localhost\r\n'
                  b'Connection: close\r\n\r\n')
        data = b''
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        return data.split(b'\r\n', 1)[0].decode(errors='replace'), data
    except OSError as e:
        return 'no answer (%s)' % e, b''


# 0. root's reserved slots must leave some for the others
with tempfile.TemporaryDirectory() as d:
    conf = os.path.join(d, 'daxod.conf')
    with open(conf, 'w') as f:
        f.write('[daxod]\nmetrics_max_connections = 8\n'
                'metrics_reserved_connections = 8\n')
    r = subprocess.run([daxod, '--config', conf, '--socket',
                        os.path.join(d, 's')] + OPTS,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 2 or 'metrics_reserved_connections' not in r.stderr:
        fail('metrics_reserved_connections = metrics_max_connections: '
             'exit %d, stderr %r (want 2 and an error)'
             % (r.returncode, r.stderr.strip()))
    else:
        print('ok: ' + r.stderr.strip(), flush=True)

# 1. per-uid limits and the slots kept for root
with tempfile.TemporaryDirectory() as d:
    os.chmod(d, 0o755)
    port = free_port()
    p = start(d, port, 'metrics_timeout_s = 3600\n')
    held, refused = [], []
    try:
        # one uid: PER_UID connections are kept, the next is closed
        uid = 65534
        held += [slow_loris(port, uid) for _ in range(PER_UID)]
        extra = slow_loris(port, uid)
        if closed_by_daemon(extra):
            print('ok: uid %d: connection %d is refused'
                  % (uid, PER_UID + 1), flush=True)
        else:
            fail('uid %d: connection %d over metrics_max_connections_per_'
                 'uid was not closed' % (uid, PER_UID + 1))
        refused = [extra]  # left open by us until the end
        # more uids, PER_UID each, up to the slots not kept for root
        uids = [65533 - i for i in range((MAX - RESERVED) // PER_UID - 1)]
        for u in uids:
            held += [slow_loris(port, u) for _ in range(PER_UID)]
        # one more uid: no slot left for it, however many it tries
        late = [slow_loris(port, 65500) for _ in range(RESERVED + 1)]
        refused += late
        for i, s in enumerate(late):
            if not closed_by_daemon(s):
                fail('uid 65500: connection %d was kept although only '
                     "root's %d reserved slots are left"
                     % (i + 1, RESERVED))
                break
        else:
            print('ok: uid 65500 gets none of the %d slots kept for root'
                  % RESERVED, flush=True)
        # root's scrape answers (without the limits, the connections
        # above would hold all metrics_max_connections)
        status, body = scrape(port)
        if status.startswith('HTTP/1.1 200') and b'daxod' in body:
            print('ok: root scrapes with %d slow-loris connections open'
                  % len(held), flush=True)
        else:
            fail('root scrape with %d slow-loris connections open: %s'
                 % (len(held), status))
        # and the connections within the limits were kept
        kept = sum(still_open(s) for s in held)
        if kept != len(held):
            fail('%d of %d connections within the limits were closed'
                 % (len(held) - kept, len(held)))
        else:
            print('ok: the %d connections within the limits stay open'
                  % len(held), flush=True)
    finally:
        for s in held + refused:
            s.close()
        stop(p)

# 2. a request head trickling in a byte at a time is closed after
# metrics_timeout_s, though never idle for that long
with tempfile.TemporaryDirectory() as d:
    os.chmod(d, 0o755)
    port = free_port()
    timeout_s = 2
    p = start(d, port, 'metrics_timeout_s = %d\n' % timeout_s)
    try:
        s = slow_loris(port, 65534)
        closed = False
        # a byte every timeout_s/4 s, for at most GUARD s
        for _ in range(GUARD * 4 // timeout_s):
            r, _, _ = select.select([s], [], [], timeout_s / 4)
            try:
                if r and s.recv(4096) == b'':
                    closed = True
                elif not r:
                    s.send(b'a')
            except (ConnectionResetError, BrokenPipeError):
                closed = True
            if closed:
                break
        s.close()
        if closed:
            print('ok: a trickling request head is closed', flush=True)
        else:
            fail('a request head sent a byte every %.1f s was still open '
                 'after %d s (metrics_timeout_s = %d)'
                 % (timeout_s / 4, GUARD, timeout_s))
        # the port still serves
        status, _ = scrape(port)
        if not status.startswith('HTTP/1.1 200'):
            fail('scrape after the slow head: %s' % status)
    finally:
        stop(p)

# 3. no uid can be learnt (NETLINK_SOCK_DIAG denied): every client is the
# one unknown uid, root too -- PER_UID connections, none of the reserved
# slots -- and the count goes down again as its connections close
with tempfile.TemporaryDirectory() as d:
    os.chmod(d, 0o755)
    port = free_port()
    env = dict(os.environ, DAXO_TEST_NO_SOCK_DIAG='1',
               LD_PRELOAD=nodiag_shim + (' ' + os.environ['LD_PRELOAD']
                                         if 'LD_PRELOAD' in os.environ
                                         else ''),
               ASAN_OPTIONS=os.environ.get('ASAN_OPTIONS', '') +
               (':' if os.environ.get('ASAN_OPTIONS') else '') +
               'verify_asan_link_order=0')
    p = start(d, port, 'metrics_timeout_s = 3600\n', env)
    refused = []

    def unknown_round():
        """PER_UID connections and two more, all of the unknown uid:
        whether the two were refused, and how many of the rest kept"""
        held = [slow_loris(port, 65534), slow_loris(port, 65533)]
        held += [slow_loris(port, 0) for _ in range(PER_UID - 2)]
        extra = [slow_loris(port, 65532), slow_loris(port, 0)]
        refused.extend(extra)
        ok = all(closed_by_daemon(s) for s in extra)
        kept = sum(still_open(s) for s in held)
        for s in held:
            s.close()
        return ok, kept

    try:
        for rnd in (1, 2, 3):
            # a connection closed by its client (start's probe, the last
            # round's) leaves its slot when daxod next polls it: a round
            # with one still counted is tried again, a slot lost for good
            # fails every try
            for attempt in range(5):
                ok, kept = unknown_round()
                if kept == PER_UID:
                    break
                time.sleep(0.2)
            if ok:
                print('ok: round %d: unknown uids: connection %d is '
                      'refused, root\'s too' % (rnd, PER_UID + 1),
                      flush=True)
            else:
                fail('round %d: with no uid lookups, more than %d '
                     'connections were kept' % (rnd, PER_UID))
            if kept != PER_UID:
                fail('round %d: %d of the %d unknown connections within '
                     'the limit were closed, in 5 tries'
                     % (rnd, PER_UID - kept, PER_UID))
            # a scrape (unknown too) answers once they are gone
            status = ''
            for _ in range(GUARD * 10):
                status, _ = scrape(port)
                if status.startswith('HTTP/1.1 200'):
                    break
                time.sleep(0.1)
            if not status.startswith('HTTP/1.1 200'):
                fail('round %d: scrape after the unknown connections '
                     'closed: %s' % (rnd, status))
                break
    finally:
        for s in refused:
            s.close()
        stop(p)

sys.exit(1 if fails else 0)
