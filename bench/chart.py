#!/usr/bin/python3
"""Chart of rvs-bench results: Mpps per mode, direction and session count against the testpmd
references measured in the same invocation.

Reads the CSV that `rvs-bench --out FILE` writes (one `rvs` line per scenario, one `testpmd` line per
reference) and writes a PNG: one group of bars per mode and direction (new flows, client -> real
server, real server -> client), one bar per session count, the testpmd io and macswap rates as
horizontal lines. Several CSV files (e.g. one run with 1 k and 1 M sessions, one with 10 M) are
merged; the testpmd lines of the first file that has them are drawn and each file's name and
references are listed under the chart.

Usage: /usr/bin/python3 bench/chart.py OUT.png RESULTS.csv [MORE.csv ...] [--title TEXT] [--log]
(--log: logarithmic Mpps axis, so that 1 M / 10 M session bars stay readable next to testpmd io)
Needs matplotlib (Debian package python3-matplotlib; `make bench` installs it).
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODES = ["nat", "fullnat", "dr", "tun", "tungue", "tungre"]
DIRS = ["new", "in", "out"]
DIR_LABEL = {"new": "new flows", "in": "client->RS", "out": "RS->client"}


def session_label(n):
    n = int(n)
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000} M sessions"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000} k sessions"
    return f"{n} sessions"


def main(argv):
    title = "rvs-bench: dataplane Mpps per worker (64-byte TCP, net_null ports)"
    if "--title" in argv:
        i = argv.index("--title")
        title = argv[i + 1]
        argv = argv[:i] + argv[i + 2 :]
    log = "--log" in argv
    argv = [a for a in argv if a != "--log"]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out, files = argv[0], argv[1:]
    rows = {}
    refs = {}
    notes = []
    for path in files:
        with open(path, newline="") as f:
            file_refs = {}
            for r in csv.DictReader(f):
                if r["kind"] == "testpmd":
                    file_refs[r["mode"]] = float(r["mpps_worker"])
                elif r["kind"] == "rvs":
                    rows[(r["mode"], r["dir"], int(r["sessions"]))] = float(r["mpps_worker"])
            if file_refs and not refs:
                refs = file_refs
            notes.append(
                f"{path.split('/')[-1]}: testpmd "
                + ", ".join(f"{k} {v:.1f} Mpps" for k, v in sorted(file_refs.items()))
            )
    if not rows:
        print("chart.py: no rvs results in " + ", ".join(files), file=sys.stderr)
        return 1
    sessions = sorted({k[2] for k in rows})
    groups = [(m, d) for m in MODES for d in DIRS if any((m, d, n) in rows for n in sessions)]
    width = 0.8 / len(sessions)
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(groups) + 2), 5.5))
    for j, n in enumerate(sessions):
        xs, ys = [], []
        for i, (m, d) in enumerate(groups):
            if (m, d, n) in rows:
                xs.append(i - 0.4 + width * (j + 0.5))
                ys.append(rows[(m, d, n)])
        bars = ax.bar(xs, ys, width, label=session_label(n))
        ax.bar_label(bars, fmt="%.1f", fontsize=6, padding=1)
    styles = {"io": ("tab:red", "--"), "macswap": ("tab:purple", ":")}
    for name, mpps in sorted(refs.items()):
        color, ls = styles.get(name, ("black", "-."))
        ax.axhline(mpps, color=color, linestyle=ls, linewidth=1.2, label=f"testpmd {name} ({mpps:.1f} Mpps)")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{m}\n{DIR_LABEL[d]}" for m, d in groups], fontsize=7)
    ax.set_ylabel("Mpps (one worker)" + (", log scale" if log else ""))
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.text(0.01, 0.01, "; ".join(notes), fontsize=6)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out, dpi=110)
    print(f"chart.py: wrote {out} ({len(groups)} groups, {len(sessions)} session counts)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
