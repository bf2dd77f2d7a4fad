#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_nomem.py -- every allocation failure of a realistic workload gives a
clean error and loses nothing.

    test_nomem.py TEST_NOMEM [--plant]

Runs TEST_NOMEM (tests/unit/test_nomem.c) once with nothing failing to
count the allocation calls the workload makes, then once for every call N
in 0..count (plus a margin: the count varies by a few with the keyed
store's random hash seed), twice: with call N failing alone ("once") and
with N and every later call failing ("persist"). Each run is a process of
its own on a pool of its own (DAXO_TEST_DIR or /dev/shm, named by this
process's pid and N). A run fails the test when it crashes, hangs (timeout),
meets an error outside the contract, or loses or leaks what it
acknowledged; the report names N, the mode, the exit status and the
output. More than MAX_POINTS points: the first 64 and a seeded sample of
the rest (DAXO_TEST_SEED repeats one).

--plant: TEST_NOMEM is a build with a planted bug; the test passes only
if some run reports it (and says which).
"""
import concurrent.futures
import os
import random
import signal
import subprocess
import sys
import time

MAX_POINTS = 1500  # per mode; the workload makes ~600 calls today
MARGIN = 16  # points past the unarmed count
TIMEOUT = 30  # seconds per run (a run takes ~20 ms)
WORKERS = 2
BATCH = 64


def run(exe, args, timeout=TIMEOUT):
    """(exit status or None on timeout, output) of one run"""
    try:
        cp = subprocess.run([exe] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=timeout)
        return cp.returncode, cp.stdout.decode(errors='replace')
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode(errors='replace')
        return None, out


def describe(rc):
    if rc is None:
        return 'hung (killed after %d s)' % TIMEOUT
    if rc < 0:
        try:
            return 'killed by %s' % signal.Signals(-rc).name
        except ValueError:
            return 'killed by signal %d' % -rc
    return {1: 'exit 1 (loss, leak or inconsistency)',
            2: 'exit 2 (an error outside the contract)',
            3: 'exit 3 (the run could not go on)'}.get(rc, 'exit %d' % rc)


def main():
    exe = sys.argv[1]
    plant = '--plant' in sys.argv[2:]
    pool_dir = os.environ.get('DAXO_TEST_DIR') or '/dev/shm'
    pool = os.path.join(pool_dir, 'daxo-test-nomem-%d.pool' % os.getpid())

    def pool_for(tag):
        return '%s-%s' % (pool, tag)

    t0 = time.monotonic()
    rc, out = run(exe, ['count', pool_for('count')])
    if os.path.exists(pool_for('count')):
        os.unlink(pool_for('count'))
    if rc == 77:
        print(out.strip())
        return 77
    if rc != 0 or 'allocations ' not in out:
        print('the unarmed run failed: %s\n%s' % (describe(rc), out))
        return 1
    count = int(out.split('allocations ')[1].split()[0])
    if count < 50:
        print('the workload made only %d allocation calls: is the shim '
              'counting?' % count)
        return 1
    points = list(range(count + MARGIN))
    seed = int(os.environ.get('DAXO_TEST_SEED') or
               random.SystemRandom().randrange(1 << 32))
    if len(points) > MAX_POINTS:
        rnd = random.Random(seed)
        points = points[:64] + sorted(rnd.sample(points[64:],
                                                 MAX_POINTS - 64))
        print('%d allocation calls: the first 64 and %d sampled '
              '(DAXO_TEST_SEED=%d)' % (count, MAX_POINTS - 64, seed))
    print('unarmed run: %d allocation calls; %d failure points x 2 modes'
          % (count, len(points)))
    sys.stdout.flush()

    def one(job):
        mode, n = job
        path = pool_for('%s-%d' % (mode, n))
        rc, out = run(exe, ['run', path, str(n), mode])
        if os.path.exists(path):
            os.unlink(path)
        return n, mode, rc, out

    # two at a time (the runs are short and mostly system time); in
    # batches, so that a planted bug or a broken build stops early
    jobs = [(mode, n) for mode in ('once', 'persist') for n in points]
    failures = []
    injected = 0  # runs in which a call did fail
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as ex:
        for b in range(0, len(jobs), BATCH):
            for n, mode, rc, out in ex.map(one, jobs[b:b + BATCH]):
                if ', 0 failed;' not in out:
                    injected += 1
                if rc != 0:
                    failures.append((n, mode, rc, out))
            if failures and (plant or len(failures) >= 10):
                break

    dt = time.monotonic() - t0
    if plant:
        if not failures:
            print('the planted bug went unreported over %d runs (%.1f s)'
                  % (2 * len(points), dt))
            return 1
        n, mode, rc, out = failures[0]
        print('the planted bug was reported: allocation call N=%d failing '
              '(%s): %s\n%s' % (n, mode, describe(rc), out.rstrip()))
        return 0
    for n, mode, rc, out in failures[:10]:
        print('FAIL: allocation call N=%d failing (%s): %s\n%s'
              % (n, mode, describe(rc), out.rstrip()))
        print('  repeat: PMEM_IS_PMEM_FORCE=1 %s run POOL %d %s'
              % (exe, n, mode))
    if failures:
        print('%d failing runs (the first 10 shown; the rest of the points '
              'not run)' % len(failures) if len(failures) > 10 else
              '%d failing runs' % len(failures))
        return 1
    if injected < count:
        print('only %d runs failed an allocation call (of %d counted): '
              'the shim is not reached' % (injected, count))
        return 1
    print('ok: %d runs (%d failed an allocation call), each failure '
          'clean and nothing lost (%.1f s)' % (2 * len(points), injected, dt))
    return 0


if __name__ == '__main__':
    sys.exit(main())
