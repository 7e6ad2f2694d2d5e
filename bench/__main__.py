"""``python -m bench``: run SPEC §10's benchmarks and write bench/RESULTS.md.

    python -m bench                      # everything (about 10 minutes; 1M archived is cached)
    python -m bench --quick              # fewer rounds, smaller burst, no 1M: a smoke run
    python -m bench --only live          # just (a), (b), (d); --only draft for (c)

Exit status 0 when every goal measured passed, 1 otherwise. Work files (the Synapse, the bot's
database and log, the draft databases) go to bench/out/, which git ignores.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from bench import botwork, drafts, live, machine
from bench.report import (
    GOAL_DRAFT_ARCHIVED,
    GOAL_DRAFT_MS,
    GOAL_RATIO,
    GOAL_RSS_MB,
    Results,
    render,
)

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description="Run SPEC §10's benchmarks; write bench/RESULTS.md."
    )
    p.add_argument("--only", choices=["live", "draft"], help="run one part")
    p.add_argument("--quick", action="store_true", help="a short smoke run")
    p.add_argument("--rounds", type=int, default=200, help="latency rounds per client")
    p.add_argument("--burst", type=int, default=500, help="submissions in the burst")
    p.add_argument(
        "--sizes",
        default="10000,50000,100000,1000000",
        help="archived entries for the draft benchmark (comma-separated)",
    )
    p.add_argument(
        "--draft-budget",
        type=float,
        default=300,
        help="seconds a draft database may take to build before that size is skipped",
    )
    p.add_argument("-o", "--output", default=str(HERE / "RESULTS.md"), help="results file")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.burst = min(args.rounds, 40), min(args.burst, 100)
        args.sizes = ",".join(s for s in args.sizes.split(",") if int(s) <= 100_000)
    return args


def passed(results: Results) -> bool:
    ok = True
    if results.live is not None:
        lr = results.live
        ok &= lr.ratio_p50 <= GOAL_RATIO
        ok &= lr.burst_stored_distinct == lr.burst == lr.burst_acked
        ok &= lr.burst_ack_duplicates == 0
        ok &= lr.bot_rss_peak_mb < GOAL_RSS_MB
    for d in results.drafts or []:
        if d.archived == GOAL_DRAFT_ARCHIVED and d.build_ms:
            ok &= d.build_p50 < GOAL_DRAFT_MS
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    command = "python -m bench" + (" " + " ".join(argv or sys.argv[1:])).rstrip()
    results = Results(machine=machine.describe(), command=command.strip(), elapsed_s=0.0)
    OUT.mkdir(exist_ok=True)
    if args.only in (None, "live"):
        print("(a), (b), (d): live, on a fresh Synapse", flush=True)
        results.botwork = botwork.run()
        results.live = asyncio.run(live.run(OUT / "live", rounds=args.rounds, burst_n=args.burst))
    if args.only in (None, "draft"):
        print("(c): draft against growing archives", flush=True)
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | {GOAL_DRAFT_ARCHIVED})
        results.drafts = drafts.run(OUT / "drafts", sizes, budget_s=args.draft_budget)
    results.elapsed_s = time.monotonic() - started
    results.load_after = machine.describe()["load average at start"]
    Path(args.output).write_text(render(results), encoding="utf-8")
    print(f"wrote {args.output}")
    ok = passed(results)
    print("all goals met" if ok else "some goals were missed; see the results file")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
