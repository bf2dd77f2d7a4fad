#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""check_contract.py -- every error a public function returned in the
suites is one that daxo.h lists for it.

usage: check_contract.py DAXO_H LOGDIR RECORDER PROBE

The suites run with the contract recorder preloaded (recorder.c), which
logs each (function, negative result) pair to LOGDIR. This test runs after
every other (lowest priority, alone) and:

1. proves the recorder works: PROBE, run under it, must log daxo_open's
   -ENOENT and must not log the callback value daxo_foreach passed on;
2. proves the comparison works: a record of an error that daxo.h does not
   list for its function must be reported;
3. compares what the suites logged with daxo.h: a code the header does not
   list for the function that returned it fails the test, naming both.
   Functions that daxo.h does not declare (any more) fail too. Logs older
   than the recorder (a stale build) are ignored; the logs read are
   removed, so the next run starts afresh.

Exit 77 (skipped) when no suite logged anything: run it with the suites
(`meson test`), not alone.
"""
import errno
import glob
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daxo_h  # noqa: E402


def code_name(code):
    return '-' + errno.errorcode.get(-code, 'E?%d' % -code)


def read_logs(paths):
    pairs = {}
    for path in paths:
        with open(path) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 2:
                    pairs.setdefault((parts[0], int(parts[1])), path)
    return pairs


def code_value(name):
    """-ENOENT -> -2; None for a name errno does not know"""
    v = getattr(errno, name[1:], None)
    return -v if isinstance(v, int) else None


def unknown_names(funcs):
    """[(function, name)] for -E... names in daxo.h that are no errno"""
    return [(f['name'], c) for f in funcs for c in f['codes']
            if code_value(c) is None]


def violations(funcs, pairs):
    """[(function, code, why)] for pairs the header does not allow"""
    byname = {f['name']: f for f in funcs}
    bad = []
    for (fn, code) in sorted(pairs):
        f = byname.get(fn)
        if f is None:
            bad.append((fn, code, 'not declared in daxo.h'))
        elif code not in [code_value(c) for c in f['codes']]:
            bad.append((fn, code, 'daxo.h lists %s' %
                        (', '.join(f['codes']) or 'no error')))
    return bad


def main():
    header, logdir, recorder, probe = sys.argv[1:5]
    funcs = daxo_h.functions(open(header).read())
    checked = [f for f in funcs if f['ret'] == 'int']

    # 1. the recorder logs a function's error and not a callback's value
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, LD_PRELOAD=recorder, DAXO_CONTRACT_LOG=tmp)
        pool = os.path.join(os.environ.get('DAXO_TEST_DIR') or '/dev/shm',
                            'daxo-contract-probe-%d.pool' % os.getpid())
        r = subprocess.run([probe, pool], env=env)
        got = read_logs(glob.glob(os.path.join(tmp, '*.log')))
        if r.returncode != 0 or ('daxo_open', -errno.ENOENT) not in got:
            print('FAIL: the recorder did not log daxo_open -ENOENT from '
                  'the probe (exit %d, logged %s)' % (r.returncode,
                                                     sorted(got)))
            return 1
        if ('daxo_foreach', -errno.EL2HLT) in got:
            print('FAIL: the recorder took the callback value daxo_foreach '
                  'passed on for its error')
            return 1
    # 2. the comparison reports an undocumented code
    if not violations(checked, {('daxo_open', -errno.EXDEV): '-'}):
        print('FAIL: daxo_open -EXDEV, which daxo.h does not list, passed')
        return 1

    typos = unknown_names(checked)
    for fn, name in typos:
        print('FAIL: daxo.h lists %s for %s, which is no errno name' %
              (name, fn))
    if typos:
        return 1

    # 3. the suites' records
    since = os.stat(recorder).st_mtime
    logs = [p for p in glob.glob(os.path.join(logdir, '*.log'))]
    fresh = [p for p in logs if os.stat(p).st_mtime >= since]
    pairs = read_logs(fresh)
    for p in logs:
        os.unlink(p)
    if not pairs:
        print('SKIP: no records from the suites in %s: run this test with '
              'them (meson test), not alone' % logdir)
        return 77
    bad = violations(checked, pairs)
    seen = {}
    for (fn, code) in pairs:
        seen.setdefault(fn, set()).add(code)
    print('%-26s %-40s %s' % ('function', 'seen in the suites',
                              'listed in daxo.h'))
    for f in checked:
        s = ' '.join(code_name(c) for c in sorted(seen.get(f['name'], ()),
                                                   reverse=True))
        print('%-26s %-40s %s' % (f['name'], s or '-',
                                  ' '.join(f['codes']) or '-'))
    for fn, code, why in bad:
        print('FAIL: %s returned %s (%d); %s' % (fn, code_name(code), code,
                                                  why))
    print('check_contract: %d functions, %d (function, error) pairs seen, '
          '%d not listed' % (len(checked), len(pairs), len(bad)))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
