#!/usr/bin/env python3
"""Times the commands of scripts/bench.sh: runs each once per round, in turn (A B C A B C ...,
so a drift in the machine's speed hits every command alike), and prints medians and ratios.

  measure.py ROUNDS TABLE

TABLE: one command a line, tab-separated: label, description, yardstick label (or -), then
the command (split like a shell would, run without one). After the table, a line
"# ratio A B TEXT" prints TEXT and A's median wall over B's (B may be a number of seconds),
"# diff A B TEXT" prints TEXT and A's median wall minus B's, in ms.

Per run: wall time (monotonic clock around the child), CPU time (user + system of the child
and everything it waited for, from wait4), and peak RSS from GNU time -v ("Maximum resident
set size": the largest single process). The command runs under /usr/bin/time -v; time's own
cost (a fork and an exec) is in every figure alike.
"""
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time


def run_once(argv, time_out):
    start = time.monotonic()
    with open(os.devnull, "wb") as null:
        child = subprocess.Popen(["/usr/bin/time", "-v", "-o", time_out] + argv,
                                 stdin=subprocess.DEVNULL, stdout=null, stderr=null)
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    rss_kib = 0
    with open(time_out) as f:
        for line in f:
            if "Maximum resident set size" in line:
                rss_kib = int(line.rsplit(":", 1)[1])
    return wall, usage.ru_utime + usage.ru_stime, rss_kib, child.returncode


def main():
    rounds, table = int(sys.argv[1]), sys.argv[2]
    rows, notes = [], []
    with open(table) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# "):
                notes.append(line[2:])
            elif line:
                label, what, yardstick, command = line.split("\t", 3)
                rows.append((label, what, yardstick, shlex.split(command)))
    samples = {label: [] for label, *_ in rows}
    with tempfile.NamedTemporaryFile() as time_out:
        for _ in range(rounds):
            for label, _, _, argv in rows:
                wall, cpu, rss, rc = run_once(argv, time_out.name)
                if rc != 0:
                    sys.exit(f"measure.py: {label} exited {rc}; run it by hand to see why")
                samples[label].append((wall, cpu, rss))
    med = {label: [statistics.median(s[i] for s in runs) for i in range(3)]
           for label, runs in samples.items()}
    print(f"medians of {rounds} rounds; ratios of the medians to the yardstick's "
          "(wall, and CPU = user + system)")
    print(f"{'label':<22} {'command':<46} {'wall ms':>8} {'CPU ms':>8} {'RSS MiB':>8} "
          f"{'wall x':>7} {'CPU x':>7}")
    for label, what, yardstick, _ in rows:
        wall, cpu, rss = med[label]
        ratios = ("", "")
        if yardstick != "-":
            ywall, ycpu, _ = med[yardstick]
            ratios = (f"{wall / ywall:.2f}", f"{cpu / ycpu:.2f}")
        print(f"{label:<22} {what:<46} {wall * 1000:8.1f} {cpu * 1000:8.1f} "
              f"{rss / 1024:8.1f} {ratios[0]:>7} {ratios[1]:>7}")
    for note in notes:
        kind, a, b, text = note.split(" ", 3)
        if a not in med or (b not in med and not b.replace(".", "").isdigit()):
            continue  # a skipped command
        wall_a = med[a][0]
        wall_b = med[b][0] if b in med else float(b)
        if kind == "ratio":
            print(f"{text}: {wall_a / wall_b:.2f}x")
        else:
            print(f"{text}: {(wall_a - wall_b) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
