"""Each chapter's running time as a learner sees it, and the docs that state it.

    .venv/bin/python benchmarks/chapter_times.py           # measure (about 30 minutes here)
    .venv/bin/python benchmarks/chapter_times.py --docs    # rewrite the README's and the
                                                           # instructors' page's times from it

A chapter is measured the way a learner meets it: alone, executed top to bottom in a fresh
kernel at its default scale, with an empty cache (Part III's sweep is computed, not read), on
every core of the machine and then pinned to one core (``taskset``; Colab's usual share). Run
it with nothing else on the machine: a second process on two cores doubles a chapter's time.
Results go to ``benchmarks/chapter_times.json`` with the machine, the date and the versions;
``--docs`` is the only writer of the times in ``README.md`` and ``book/instructors.md``, and a
test checks that both agree with the JSON. Times are rounded up to the next 5 s, so the docs
never promise less than was measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "chapter_times.json"
README_START = "<!-- chapter times: written by benchmarks/chapter_times.py --docs -->"
README_END = "<!-- end of chapter times -->"
RUNNER = (
    "import resource, sys, time, nbformat\n"
    "from nbclient import NotebookClient\n"
    "nb = nbformat.read(sys.argv[1], as_version=4)\n"
    "t = time.perf_counter()\n"
    "NotebookClient(nb, timeout=1800, kernel_name='python3',"
    " resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def notebook_chapters() -> list[str]:
    """The book's chapters that are notebooks, in table-of-contents order (stems)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [Path(f).name for f in files if (ROOT / (f + ".ipynb")).exists()]


def measure(stem: str, cores: int | None) -> tuple[float, float]:
    """(seconds, kernel's peak MiB) for one chapter in a fresh kernel; ``cores=1`` pins it."""
    env = {k: v for k, v in os.environ.items() if k not in ("QROBUST_SCALE", "QROBUST_DEVICE")}
    with tempfile.TemporaryDirectory() as cache:
        env["XDG_CACHE_HOME"] = cache  # empty: Part III's sweep runs, as on first use
        command = [sys.executable, "-c", RUNNER, str(ROOT / "book" / f"{stem}.ipynb"), str(ROOT / "book")]
        if cores == 1:
            command = ["taskset", "-c", "0"] + command
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    seconds, kib = out.stdout.split()[-2:]
    return float(seconds), int(kib) / 1024


def run(only: list[str] | None) -> dict:
    stems = [s for s in notebook_chapters() if not only or s in only]
    import torch

    results = {
        "measured": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "how": "alone, fresh kernel, default scale, empty cache; 1 core via taskset -c 0",
        "chapters": {},
    }
    for stem in stems:
        row = {}
        for cores in (os.cpu_count(), 1):
            seconds, mib = measure(stem, cores)
            row[f"seconds_{'one_core' if cores == 1 else 'all_cores'}"] = round(seconds, 1)
            row["peak_mib"] = max(row.get("peak_mib", 0), round(mib))
            print(f"{stem:<36} {'1 core ' if cores == 1 else 'all cores'} {seconds:6.0f} s  {mib:5.0f} MiB", flush=True)
        results["chapters"][stem] = row
    return results


def rounded(seconds: float) -> str:
    """Rounded up to the next 5 s: ``'50 s'``, or ``'2 min 35 s'`` from 100 s on."""
    s = 5 * math.ceil(seconds / 5)
    return f"{s} s" if s < 100 else f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"


def readme_block(results: dict) -> str:
    rows = [
        README_START,
        "",
        f"Measured {results['measured']} on this project's machine ({results['machine']}, "
        f"Python {results['python']}, torch {results['torch']}): each chapter alone, in a fresh "
        "kernel, at its default scale, with an empty cache, on both cores and pinned to one "
        "(Colab's usual share). A second program busy on the same cores makes these slower.",
        "",
        "| chapter | 2 cores | 1 core | peak memory |",
        "| --- | ---: | ---: | ---: |",
    ]
    for stem, row in results["chapters"].items():
        rows.append(
            f"| `{stem}` | {rounded(row['seconds_all_cores'])} | {rounded(row['seconds_one_core'])} "
            f"| {row['peak_mib']} MiB |"
        )
    total = [sum(r[k] for r in results["chapters"].values()) for k in ("seconds_all_cores", "seconds_one_core")]
    rows += [f"| all chapters | {rounded(total[0])} | {rounded(total[1])} | |", "", README_END]
    return "\n".join(rows)


def instructors_cell(row: dict) -> str:
    return f"{rounded(row['seconds_all_cores'])} (1 core: {rounded(row['seconds_one_core'])})"


def write_docs(results: dict) -> None:
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(README_START), readme.index(README_END) + len(README_END)
    (ROOT / "README.md").write_text(readme[:start] + readme_block(results) + readme[end:])
    page = ROOT / "book" / "instructors.md"
    lines = page.read_text().splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"\| \{doc\}`(\w+)` \|", line)
        if match and match.group(1) in results["chapters"]:
            cells = line.rstrip().rstrip("|").split(" | ")
            cells[-1] = instructors_cell(results["chapters"][match.group(1)])
            lines[i] = " | ".join(cells) + " |"
    page.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", action="store_true", help="only rewrite the docs from the JSON")
    parser.add_argument("--only", nargs="+", metavar="CHAPTER", help="measure these chapters (stems)")
    args = parser.parse_args()
    if not args.docs:
        if shutil.which("taskset") is None:
            parser.error("taskset (util-linux) is needed to pin a chapter to one core")
        results = run(args.only)
        if args.only and RESULTS.exists():
            results = {
                **json.loads(RESULTS.read_text()),
                **{k: v for k, v in results.items() if k != "chapters"},
                "chapters": {**json.loads(RESULTS.read_text())["chapters"], **results["chapters"]},
            }
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    write_docs(json.loads(RESULTS.read_text()))
    print("README.md and book/instructors.md state these times")
    return 0


if __name__ == "__main__":
    sys.exit(main())
