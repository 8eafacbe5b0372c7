#!/usr/bin/env python3
"""The talk's matching loop in plain Python, with the semantics of shared/MATCHING.md.

Kept as a peer for `stowage bench`: it shows what a straightforward scheduler pays per cycle.

usage: talk_loop.py TASKS.jsonl OFFERS.jsonl consume|pack OUT.jsonl
prints: matched=K match_ms=X   (matching only, not loading)
"""
import json
import sys
import time

DIMS = ("cpuMillis", "memoryMiB", "diskMiB", "gpus")


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def match_tasks_to_offers(tasks, offers, mode):
    avail = [[o.get(d, 0) for d in DIMS] for o in offers]
    attrs = [o.get("attributes") or {} for o in offers]
    alive = [True] * len(offers)
    assignments = []
    for task in tasks:
        req = [task.get(d, 0) for d in DIMS]
        constraints = task.get("constraints") or {}
        best = -1
        best_score = float("inf")
        for i in range(len(offers)):
            if not alive[i]:
                continue
            a = avail[i]
            if req[0] > a[0] or req[1] > a[1] or req[2] > a[2] or req[3] > a[3]:
                continue
            if any(attrs[i].get(k) != v for k, v in constraints.items()):
                continue
            score = 0.0
            for d in range(4):
                if a[d] > 0:
                    score = score + (1.0 - req[d] / a[d])
            if score < best_score:
                best, best_score = i, score
        if best >= 0:
            assignments.append((task["name"], offers[best]["name"]))
            if mode == "consume":
                alive[best] = False
            else:
                for d in range(4):
                    avail[best][d] -= req[d]
    return assignments


def main():
    tasks_path, offers_path, mode, out_path = sys.argv[1:5]
    tasks = load(tasks_path)
    offers = load(offers_path)
    start = time.perf_counter()
    assignments = match_tasks_to_offers(tasks, offers, mode)
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    with open(out_path, "w") as f:
        for task, offer in assignments:
            f.write(json.dumps({"task": task, "offer": offer}) + "\n")
    print(f"matched={len(assignments)} match_ms={elapsed_ms:.1f}")


if __name__ == "__main__":
    main()
