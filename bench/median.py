#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""median.py -- one markdown table from several `daxo-bench --json` runs.

On a shared machine one run's rows move by 20% and more from run to run;
this takes, for every (workload, threads, library), the run with the median
throughput, and computes daxo/x from those medians.

    for i in 1 2 3; do build/bench/daxo-bench --json > run$i.json; done
    python3 bench/median.py run1.json run2.json run3.json
"""
import json
import sys


def main(files):
    runs = [json.load(open(f)) for f in files]
    rows, order = {}, []
    for r in runs:
        for x in r["rows"]:
            k = (x["workload"], x["threads"], x["library"])
            rows.setdefault(k, []).append(x)
            if k not in order:
                order.append(k)

    def med(k):
        xs = sorted(rows[k], key=lambda x: x["ops_per_s"])
        return xs[len(xs) // 2]

    print("| workload | threads | library | ops/s | ns/op | cpu-ns/op "
          "| fences/op | lines/op | daxo/x (wall / cpu) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for k in order:
        m = med(k)
        ratio = ""
        if k[2] != "daxo" and (k[0], k[1], "daxo") in rows:
            d = med((k[0], k[1], "daxo"))
            ratio = "%.2fx / %.2fx" % (d["ops_per_s"] / m["ops_per_s"],
                                       m["cpu_ns_per_op"] / d["cpu_ns_per_op"])
        print("| %s | %d | %s | %.0f | %.1f | %.1f | %.2f | %.2f | %s |" % (
            k[0], k[1], k[2], m["ops_per_s"], m["ns_per_op"],
            m["cpu_ns_per_op"], m["fences_per_op"], m["lines_per_op"], ratio))
    print()
    for f, r in zip(files, runs):
        c = r["config"]
        opens = ", ".join("%s %.2f ms" % (o["library"], o["open_ms"])
                          for o in r.get("open", []))
        hs = sorted({x["handoff_ns"] for x in r["rows"] if "handoff_ns" in x})
        hand = ("; core-to-core handoff %.0f / %.0f / %.0f ns (min / median"
                " / max of its multi-thread rows)" % (
                    hs[0], hs[len(hs) // 2], hs[-1])) if hs else ""
        print("%s: load average %.2f at start, %.2f at end; open: %s%s" % (
            f, c["loadavg_start"], c["loadavg_end"], opens or "-", hand))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: median.py RUN.json...")
    main(sys.argv[1:])
