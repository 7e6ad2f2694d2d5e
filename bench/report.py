"""RESULTS.md: the machine, the date, the goals with pass/fail, and the raw numbers."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.botwork import BotWork
from bench.drafts import DraftResult
from bench.live import LiveResult, percentile

GOAL_RATIO = 1.25
GOAL_DRAFT_MS = 200.0
GOAL_RSS_MB = 100.0
GOAL_DRAFT_ARCHIVED = 50_000


@dataclass
class Results:
    machine: dict[str, str]
    command: str
    elapsed_s: float
    live: LiveResult | None = None
    botwork: BotWork | None = None
    drafts: list[DraftResult] | None = None
    load_after: str = ""


def _ms(values: list[float]) -> str:
    return " ".join(f"{v:.1f}" for v in values)


def _stats_row(name: str, values: list[float]) -> str:
    return (
        f"| {name} | {len(values)} | {statistics.median(values):.1f} | "
        f"{percentile(values, 90):.1f} | {percentile(values, 99):.1f} | {min(values):.1f} | "
        f"{max(values):.1f} | {statistics.fmean(values):.1f} |"
    )


def _verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def _goals(r: Results) -> list[str]:
    lines = ["| goal (SPEC §10) | measured | result |", "|---|---|---|"]
    live = r.live
    if live is not None and live.bot_ms:
        lines.append(
            f"| (a) ack latency p50 ≤ {GOAL_RATIO}× a bare matrix-nio reactor's |"
            f" {live.bot_p50:.1f} ms vs {live.nio_p50:.1f} ms: **{live.ratio_p50:.2f}×** |"
            f" {_verdict(live.ratio_p50 <= GOAL_RATIO)} |"
        )
    if live is not None and live.burst:
        once = (
            live.burst_stored == live.burst
            and live.burst_stored_distinct == live.burst
            and live.burst_acked == live.burst
            and live.burst_ack_duplicates == 0
        )
        lines.append(
            f"| (b) a burst of {live.burst} submissions, all stored once |"
            f" {live.burst_stored_distinct}/{live.burst} stored once,"
            f" {live.burst_acked} acked, {live.burst_ack_duplicates} duplicate acks,"
            f" in {live.burst_elapsed_s:.1f} s | {_verdict(once)} |"
        )
    target = next((d for d in r.drafts or [] if d.archived == GOAL_DRAFT_ARCHIVED), None)
    if target is not None and target.build_ms:
        lines.append(
            f"| (c) draft of a 1,000-entry edition with {GOAL_DRAFT_ARCHIVED:,} archived"
            f" entries < {GOAL_DRAFT_MS / 1000:g} s | {target.build_p50:.0f} ms (p50 of"
            f" {len(target.build_ms)}) | {_verdict(target.build_p50 < GOAL_DRAFT_MS)} |"
        )
    if live is not None and live.bot_rss_peak_mb:
        lines.append(
            f"| (d) the bot's peak RSS over (a) and (b) < {GOAL_RSS_MB:g} MB |"
            f" {live.bot_rss_peak_mb:.1f} MB | {_verdict(live.bot_rss_peak_mb < GOAL_RSS_MB)} |"
        )
    return lines


def _latency(live: LiveResult, work: BotWork | None) -> list[str]:
    out = [
        "## (a) Acknowledgement latency",
        "",
        "One sender posts a submission and measures until the acknowledging reaction arrives in",
        "its own `/sync`, which it keeps open all the time (a long poll). It alternates between",
        "the bot's room and a room where a bare matrix-nio client (`bench/reactor.py`, its own",
        "process, same sync filter as the bot) reacts to every message the moment it receives",
        "it: one receive, one send. The bot is `twimbot run` in its own process with This Week",
        "in Matrix's real config (132 projects, 33 sections, an `ack_text` notice after each",
        "ack, the editors-room line). Before each send the benchmark waits until the bot has",
        "sent everything it owes and 150 ms more, so neither client's round is measured while",
        "the bot's trailing messages are still in flight. Bot first in even rounds, nio first",
        f"in odd ones; {live.warmup} warm-up rounds not counted.",
        "",
        "| client | n | p50 ms | p90 ms | p99 ms | min ms | max ms | mean ms |",
        "|---|---|---|---|---|---|---|---|",
        _stats_row("twimbot", live.bot_ms),
        _stats_row("bare matrix-nio", live.nio_ms),
        "",
        f"Ratio twimbot / nio: **{live.ratio_p50:.2f}× at p50**, {live.ratio_p99:.2f}× at p99.",
        "",
    ]
    if work is not None:
        out += [
            "The bot's own share of that, measured in process without a homeserver"
            " (`bench/botwork.py`: `Bot.process` of a one-submission batch, TWIM config, real"
            " SQLite with `synchronous=FULL`):"
            f" {work.statements:.0f} SQL statements per submission,"
            f" {work.process_p50:.1f} ms p50 (min {min(work.process_ms):.1f},"
            f" p90 {percentile(work.process_ms, 90):.1f}) from parsed sync to committed"
            " batch; the ack is sent right after.",
            "",
        ]
    out += [
        "Raw latencies, in the order measured (ms):",
        "",
        "```",
        f"twimbot: {_ms(live.bot_ms)}",
        "",
        f"nio:     {_ms(live.nio_ms)}",
        "```",
    ]
    if work is not None:
        out += ["", "```", f"Bot.process (ms): {_ms(work.process_ms)}", "```"]
    return out


def _burst(live: LiveResult) -> list[str]:
    cpu_total = live.burst_cpu_bot_s + live.burst_cpu_synapse_s
    share = live.burst_cpu_bot_s / cpu_total if cpu_total else 0.0
    rate = live.burst / live.burst_elapsed_s if live.burst_elapsed_s else 0.0
    return [
        f"## (b) A burst of {live.burst} submissions",
        "",
        f"{live.burst_senders} contributors post {live.burst} submissions with"
        f" {live.burst_in_flight} sends in flight, right after (a), on the same server and"
        " bot. Elapsed: from the first send to the last ack seen by the watching sender."
        " Stored: read from the bot's database afterwards. Acks: counted in the sender's"
        " sync, 2 s after the last one (a doubled ack would show). CPU: user + system time"
        " from `/proc/<pid>/stat` over the burst. Each submission costs the homeserver four"
        " events (the message, the ack, the `ack_text` notice, the editors-room line).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| elapsed until every ack was seen | {live.burst_elapsed_s:.2f} s ({rate:.1f} submissions/s) |",
        f"| stored (rows / distinct event ids) | {live.burst_stored} / {live.burst_stored_distinct} |",
        f"| acknowledged / duplicate acks / missing acks | {live.burst_acked} / {live.burst_ack_duplicates} / {live.burst_missing_acks} |",
        f"| bot CPU | {live.burst_cpu_bot_s:.2f} s ({live.burst_cpu_bot_s / live.burst_elapsed_s * 100 if live.burst_elapsed_s else 0:.0f}% of one core) |",
        f"| Synapse CPU | {live.burst_cpu_synapse_s:.2f} s |",
        f"| the bot's share of bot + Synapse CPU | {share * 100:.0f}% |",
        f"| nio reactor CPU (idle during the burst) | {live.burst_cpu_reactor_s:.2f} s |",
    ]


def _drafts(drafts: list[DraftResult]) -> list[str]:
    out = [
        "## (c) `draft` of a 1,000-entry edition against a growing archive",
        "",
        "Databases built by `bench/drafts.py`: the real schema (`Store.open`), then N archived",
        "entries in N/1,000 published editions plus the open edition of 1,000, each entry with",
        "its message, first revision and three sent outbox rows; one in ten carries an editor's",
        "mark, one in twenty an image. Texts are the 2022-10-28 post's entries (about 900",
        "characters on average), the config is TWIM's. `draft.build` is gather + render in a",
        "warm process (what `!twim draft` does before uploading); `+ zip` adds the bundle;",
        "`status` is `twimbot status`'s report; `CLI` is the wall time of a fresh",
        "`twimbot draft -c CONFIG -o FILE` process, interpreter start and imports included.",
        "",
        "| archived entries | DB size | draft.build p50 (min–max) | + zip p50 | status p50 | CLI wall p50 |",
        "|---|---|---|---|---|---|",
    ]
    for d in drafts:
        if d.skipped:
            out.append(f"| {d.archived:,} | – | skipped: {d.skipped} | | | |")
            continue
        out.append(
            f"| {d.archived:,} | {d.db_mb:,.0f} MB | {d.build_p50:.0f} ms"
            f" ({min(d.build_ms):.0f}–{max(d.build_ms):.0f}) |"
            f" {statistics.median(d.bundle_ms):.0f} ms | {statistics.median(d.status_ms):.0f} ms |"
            f" {d.cli_p50:.0f} ms |"
        )
    out += ["", "Raw (ms):", "", "```"]
    for d in drafts:
        if d.skipped:
            continue
        built = "cached" if d.cached else "built"
        out += [
            f"{d.archived} archived ({built} in {d.build_s:.0f} s, {d.entries} entries rendered)",
            f"  draft.build: {_ms(d.build_ms)}",
            f"  + zip:       {_ms(d.bundle_ms)}",
            f"  status:      {_ms(d.status_ms)}",
            f"  CLI wall:    {_ms(d.cli_ms)}",
        ]
    out.append("```")
    return out


def _memory(live: LiveResult) -> list[str]:
    return [
        "## (d) The bot's memory",
        "",
        "From `/proc/<pid>/status` of the `twimbot run` process: `VmRSS` once it had synced,"
        " `VmRSS` and `VmHWM` (the kernel's peak-RSS mark over the process's whole life) after"
        " (a) and (b).",
        "",
        "| measure | MB |",
        "|---|---|",
        f"| RSS when ready | {live.bot_rss_ready_mb:.1f} |",
        f"| RSS after (a) and (b) | {live.bot_rss_end_mb:.1f} |",
        f"| **peak RSS** | **{live.bot_rss_peak_mb:.1f}** |",
        "",
        f"The bot used {live.bot_cpu_total_s:.1f} s of CPU over its whole run (start-up,"
        f" {len(live.bot_ms) + live.warmup} latency rounds, the burst).",
    ]


def render(r: Results) -> str:
    lines = [
        "# twimbot benchmark results",
        "",
        f"Written by `{r.command}` (`make bench`); the run took {r.elapsed_s / 60:.1f} min."
        " Everything runs on this one machine: Synapse on 127.0.0.1 with SQLite, the bot, the",
        "nio reactor and the benchmark itself share its cores, so absolute numbers say as much",
        "about the machine's load as about twimbot; the ratios in (a) compare two clients",
        "measured in the same run, alternately, on the same server. What each part does, how",
        "to run it, and what these numbers made us change: [README.md](README.md).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in r.machine.items()],
    ]
    if r.load_after:
        lines.append(f"| load average at end | {r.load_after} |")
    lines += ["", "## Goals", "", *_goals(r), ""]
    if r.live is not None and r.live.bot_ms:
        lines += [*_latency(r.live, r.botwork), ""]
    if r.live is not None and r.live.burst:
        lines += [*_burst(r.live), ""]
    if r.drafts:
        lines += [*_drafts(r.drafts), ""]
    if r.live is not None and r.live.bot_rss_peak_mb:
        lines += [*_memory(r.live), ""]
    return "\n".join(lines)
