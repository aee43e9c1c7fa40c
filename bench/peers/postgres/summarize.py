#!/usr/bin/env python3
"""Summarize a sidebyside.sh directory: median [min-max] over runs, and the
jetflow / PostgreSQL ratio computed within each run (then its median)."""
import glob
import json
import os
import re
import statistics
import sys


def lines(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                yield json.loads(line)


def fmt(v):
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def mm(xs):
    if not xs:
        return "n/a"
    return f"{fmt(statistics.median(xs))} [{fmt(min(xs))}–{fmt(max(xs))}]"


def main(out):
    runs = sorted(int(re.search(r"_(\d+)\.jsonl$", p).group(1)) for p in glob.glob(os.path.join(out, "jetflow_*.jsonl")))
    jet = {}  # run -> scenario -> result
    pg = {}  # run -> scenario -> mode -> [results]
    for r in runs:
        jet[r] = {x["scenario"]: x for x in lines(os.path.join(out, f"jetflow_{r}.jsonl"))}
        pg[r] = {}
        p = os.path.join(out, f"postgres_{r}.jsonl")
        if os.path.exists(p):
            for x in lines(p):
                pg[r].setdefault(x["scenario"], {}).setdefault(x["mode"], []).append(x)
    print(f"runs: {runs}\n")
    print("| scenario | jetflow | raw JetStream (same jetflow run) | PostgreSQL mode | PostgreSQL (best config) | jetflow / PostgreSQL |")
    print("| --- | --- | --- | --- | --- | --- |")
    for sc in ["append", "append-concurrent", "append-batch", "append-batch-concurrent"]:
        jr = [jet[r][sc]["rate"] for r in runs if sc in jet[r]]
        raw = [jet[r][sc]["raw_rate"] for r in runs if sc in jet[r]]
        for mode in ["synchronous_commit=on", "synchronous_commit=off"]:
            best, ratio = [], []
            for r in runs:
                rows = pg[r].get(sc, {}).get(mode, [])
                h = [x for x in rows if x["headline"]]
                if h and sc in jet[r]:
                    best.append(h[0]["rate"])
                    ratio.append(jet[r][sc]["rate"] / h[0]["rate"])
            print(f"| `{sc}` | {mm(jr)} events/s | {mm(raw)} | {mode} | {mm(best)} | {mm(ratio)} |")
    # load: latencies; ratio = PostgreSQL p50 / jetflow p50 (> 1: jetflow faster)
    jp50, jp99, jcpu, pp50, pp99, pcpu, pall, ratio = [], [], [], [], [], [], [], []
    j1p50, j1p99 = [], []
    for r in runs:
        j = jet[r].get("load")
        rows = [x for m in pg[r].get("load", {}).values() for x in m]
        if not j or not rows:
            continue
        jm = {m["name"]: m["value"] for m in j["metrics"]}
        pm = {m["name"]: m["value"] for m in rows[0]["metrics"]}
        jp50.append(jm["jetflow p50"]); jp99.append(jm["jetflow p99"]); jcpu.append(jm["jetflow CPU per load p50"])
        if "one-event commits: jetflow p50" in jm:
            j1p50.append(jm["one-event commits: jetflow p50"]); j1p99.append(jm["one-event commits: jetflow p99"])
        pp50.append(pm["p50"]); pp99.append(pm["p99"]); pcpu.append(pm["client CPU per load p50"])
        if "client+server CPU per load mean" in pm:
            pall.append(pm["client+server CPU per load mean"])
        ratio.append(pm["p50"] / jm["jetflow p50"])
    print()
    print("| load, 1,000 events | p50 ms | p99 ms | CPU per load ms |")
    print("| --- | --- | --- | --- |")
    print(f"| jetflow `Store.Load` (commits of 100, as PostgreSQL's are written) | {mm(jp50)} | {mm(jp99)} | {mm(jcpu)} (process, server included: p50) |")
    if j1p50:
        print(f"| jetflow `Store.Load` (1,000 one-event commits) | {mm(j1p50)} | {mm(j1p99)} | |")
    print(f"| PostgreSQL + pgx | {mm(pp50)} | {mm(pp99)} | client {mm(pcpu)} (p50); client + server backend {mm(pall)} (mean) |")
    print(f"\nload speed, jetflow / PostgreSQL (PostgreSQL p50 / jetflow p50, per run): {mm(ratio)}\n")
    # every PostgreSQL configuration
    print("| scenario | PostgreSQL mode | configuration | events/s |")
    print("| --- | --- | --- | --- |")
    seen = []
    for r in runs:
        for sc, modes in pg[r].items():
            for mode, rows in modes.items():
                for x in rows:
                    k = (sc, mode, x["config"])
                    if k not in seen:
                        seen.append(k)
    for sc, mode, cfg in seen:
        if sc == "load":
            continue
        vals = [x["rate"] for r in runs for x in pg[r].get(sc, {}).get(mode, []) if x["config"] == cfg]
        print(f"| `{sc}` | {mode} | {cfg} | {mm(vals)} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
