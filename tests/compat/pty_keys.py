#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""pty_keys.py -- run a terminal program (PMDK's ncurses games) on a
pseudo-terminal, type KEYS into it one every 0.15 s, and print its exit
status (a program still running 10 s after the last key is killed: 137).

usage: pty_keys.py KEYS PROG [ARGS...]
"""
import os
import pty
import select
import sys
import time


def drain(fd, seconds):
    """read (and drop) what the program draws for @seconds"""
    end = time.time() + seconds
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                os.read(fd, 65536)
            except OSError:
                return


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    keys, argv = sys.argv[1], sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    drain(fd, 0.5)
    for k in keys:
        os.write(fd, k.encode())
        drain(fd, 0.15)
    for _ in range(100):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        drain(fd, 0.1)
    else:
        os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status))
    return 0


if __name__ == "__main__":
    sys.exit(main())
