#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
#
# test_config_lines.py -- daxod's config file with lines longer than
# libinih's line buffer: the tail of a long comment must not become a
# setting, and a long setting must be refused with a clear error, not cut
# in pieces parsed as separate lines.
#
# usage: test_config_lines.py DAXOD
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

daxod = sys.argv[1]
fails = 0
OPTS = ['--no-perf', '--no-tracepoints', '--no-scan']


def fail(msg):
    global fails
    fails += 1
    print('FAIL: ' + msg)


with tempfile.TemporaryDirectory() as d:
    conf = os.path.join(d, 'daxod.conf')
    sock = os.path.join(d, 'daxod.sock')

    # 1. a comment of 300 bytes whose tail reads as a setting: daxod runs
    # with the default socket mode (0666), not the commented-out 0777
    with open(conf, 'w') as f:
        f.write('[daxod]\n# ' + 'x' * 197 + 'socket_mode = 0777\n'
                '; ' + 'y' * 300 + 'no_such_key = 1\n')
    p = subprocess.Popen([daxod, '--config', conf, '--socket', sock] + OPTS,
                         stderr=subprocess.PIPE, text=True)
    # wait for the socket (or for daxod to give up); no time is asserted
    while not os.path.exists(sock) and p.poll() is None:
        time.sleep(0.05)
    if p.poll() is not None:
        fail('long comments: daxod exited %d: %s'
             % (p.returncode, p.stderr.read().strip()))
    else:
        mode = stat.S_IMODE(os.stat(sock).st_mode)
        if mode != 0o666:
            fail('long comment: the socket has mode %o, not 666: the '
                 "comment's tail was taken as a setting" % mode)
        else:
            print('ok: long comments are comments')
        p.send_signal(signal.SIGTERM)
        p.wait()

    # 2. a setting on a line longer than inih's buffer: refused, and said so
    with open(conf, 'w') as f:
        f.write('[daxod]\nscan_paths = /' + 'a' * 300 + '\n')
    p = subprocess.run([daxod, '--config', conf, '--socket', sock + '2']
                       + OPTS, capture_output=True, text=True, timeout=600)
    if p.returncode != 2 or 'daxod.conf:2: line longer than' not in p.stderr:
        fail('long setting: exit %d, stderr %r (want 2 and "line longer '
             'than")' % (p.returncode, p.stderr.strip()))
    else:
        print('ok: a long setting is refused: ' + p.stderr.strip())

print('%d failure(s)' % fails)
sys.exit(1 if fails else 0)
