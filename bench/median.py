#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""median.py -- one markdown table from several --json runs of daxo-bench,
daxo-ycsb or daxo-treemap (the same program for all the files).

On a shared machine one run's rows move by 20% and more from run to run;
this takes, for every (workload, threads, library), the run with the median
throughput (and the median CPU time per op), and computes daxo/x from those
medians. A row that failed in some runs is shown from the runs where it did
not, with how many failed; a row that failed in all shows the error.

    for i in 1 2 3; do build/bench/daxo-bench --json > run$i.json; done
    python3 bench/median.py run1.json run2.json run3.json
"""
import json
import sys


def main(files):
    runs = [json.load(open(f)) for f in files]
    rows, errs, order = {}, {}, []
    for r in runs:
        for x in r["rows"]:
            k = (x["workload"], x["threads"], x["library"])
            if k not in order:
                order.append(k)
            if "error" in x:
                errs.setdefault(k, []).append(x["error"])
            else:
                rows.setdefault(k, []).append(x)
    syncs = any(x.get("syncs_per_op", 0) > 0
                for xs in rows.values() for x in xs)

    def med(k):
        xs = sorted(rows[k], key=lambda x: x["ops_per_s"])
        m = dict(xs[len(xs) // 2])
        cpu = sorted(x["cpu_ns_per_op"] for x in xs)
        m["cpu_ns_per_op"] = cpu[len(cpu) // 2]
        return m

    def count(m, key):
        if m.get("count_source") is None:
            return "-"
        return "%.2f" % m[key]

    print("| workload | threads | library | ops/s | ns/op | cpu-ns/op "
          "| fences/op | lines/op |%s daxo/x (wall / cpu) |"
          % (" syncs/op |" if syncs else ""))
    print("|---|---:|---|---:|---:|---:|---:|---:|%s---:|"
          % ("---:|" if syncs else ""))
    for k in order:
        if k not in rows:
            print("| %s | %d | %s | error: %s | | | | |%s |"
                  % (k[0], k[1], k[2], errs[k][0], " |" if syncs else ""))
            continue
        m = med(k)
        ratio = ""
        d = (k[0], k[1], "daxo")
        if k[2] != "daxo" and d in rows:
            dm = med(d)
            ratio = "%.2fx / %.2fx" % (dm["ops_per_s"] / m["ops_per_s"],
                                       m["cpu_ns_per_op"] /
                                       dm["cpu_ns_per_op"])
        failed = (" (%d of %d runs failed)" % (len(errs[k]), len(runs))
                  if k in errs else "")
        print("| %s%s | %d | %s | %.0f | %.1f | %.1f | %s | %s |%s %s |" % (
            k[0], " (oversubscribed)" if m.get("oversubscribed") else "",
            k[1], k[2] + failed, m["ops_per_s"], m["ns_per_op"],
            m["cpu_ns_per_op"], count(m, "fences_per_op"),
            count(m, "lines_per_op"),
            (" %.2f |" % m.get("syncs_per_op", 0)) if syncs else "", ratio))
    print()
    for f, r in zip(files, runs):
        c = r["config"]
        opens = ", ".join("%s %.2f ms" % (o["library"], o["open_ms"])
                          for o in r.get("open", []) if "open_ms" in o)
        loads = ", ".join("%s %d B %.2f s" % (o["library"], o["value_bytes"],
                                              o["seconds"])
                          for o in r.get("load", []) if "seconds" in o)
        hs = sorted({x["handoff_ns"] for x in r["rows"] if "handoff_ns" in x})
        hand = ("; core-to-core handoff %.0f / %.0f / %.0f ns (min / median"
                " / max of its multi-thread rows)" % (
                    hs[0], hs[len(hs) // 2], hs[-1])) if hs else ""
        print("%s: load average %.2f at start, %.2f at end%s%s%s" % (
            f, c["loadavg_start"], c["loadavg_end"],
            "; open: " + opens if opens else "",
            "; load: " + loads if loads else "", hand))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: median.py RUN.json...")
    main(sys.argv[1:])
