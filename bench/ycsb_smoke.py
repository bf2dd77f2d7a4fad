#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""ycsb_smoke.py -- run `daxo-ycsb --quick --json` and check what it says.

Every built store has a row for every workload (A, B, C, F), value size and
thread count (1, 2), none of them an error (the driver checks every value it
reads, so a store returning a wrong record fails its row). Durability is
checked by counts, not timings: each store's load made every put durable
(daxo and pmemobj: at least one fence per put; lmdb and rocksdb: at least
one fsync-family call per put), rows with updates (A, B, F) at one thread
fence or sync, and read-only rows (C) neither fence nor sync.

    ycsb_smoke.py DAXO-YCSB daxo,pmemobj[,lmdb][,rocksdb]
"""
import json
import subprocess
import sys


def main(exe, stores):
    stores = stores.split(",")
    p = subprocess.run([exe, "--quick", "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    sys.stderr.write(p.stderr)
    print(p.stdout)
    if p.returncode != 0:
        print("FAIL: daxo-ycsb exited %d" % p.returncode)
        return 1
    out = json.loads(p.stdout)
    fail = []
    rows = {(r["workload"], r["threads"], r["library"]): r
            for r in out["rows"]}
    pmem = ("daxo", "pmemobj")
    for s in stores:
        for wl in "ABCF":
            for vs in ("100B", "1KiB"):
                for t in (1, 2):
                    k = ("%s-%s" % (wl, vs), t, s)
                    r = rows.get(k)
                    if r is None:
                        fail.append("no row %s" % (k,))
                        continue
                    if "error" in r:
                        fail.append("row %s: %s" % (k, r["error"]))
                        continue
                    if t != 1:
                        continue
                    n = r["fences_per_op"] if s in pmem else r["syncs_per_op"]
                    what = "fences" if s in pmem else "syncs"
                    if wl == "C" and n != 0:
                        fail.append("row %s: %s/op %.3f on reads only"
                                    % (k, what, n))
                    if wl != "C" and n <= 0:
                        fail.append("row %s: updates without %s" % (k, what))
        loads = [x for x in out["load"] if x["library"] == s]
        if len(loads) != 2:
            fail.append("%s: %d loads, expected 2" % (s, len(loads)))
        for x in loads:
            if "error" in x:
                fail.append("%s load: %s" % (s, x["error"]))
            elif s in pmem and x["fences_per_put"] < 1:
                fail.append("%s load: %.2f fences per put"
                            % (s, x["fences_per_put"]))
            elif s not in pmem and x["syncs_per_put"] < 1:
                fail.append("%s load: %.2f syncs per put"
                            % (s, x["syncs_per_put"]))
    for f in fail:
        print("FAIL: " + f)
    if not fail:
        print("ycsb-smoke: %d rows of %s present and durable"
              % (len(out["rows"]), ",".join(stores)))
    return 1 if fail else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
