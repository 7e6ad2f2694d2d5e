"""``twimbot demo`` end to end, as a newcomer runs it: a subprocess that starts its own Synapse.

This is the one test that starts a second Synapse (the demo's own): the demo's job is exactly
to start, use and stop one, so the session server cannot stand in for it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from twimbot.demo import load_samples

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    # The demo must run from this checkout, whatever twimbot the venv has installed.
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (e.g. the demo's workdir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="process check reads /proc (Linux)")
def test_demo_makes_a_draft_and_leaves_nothing_running(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "twimbot", "demo", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    out = done.stdout
    # Every step is shown and none failed.
    assert re.findall(r"^\[(\d)/8\]", out, re.MULTILINE) == [str(i) for i in range(1, 9)]
    assert "failed" not in out
    drafts = sorted(workdir.glob("twim-*.md"))
    bundles = sorted(workdir.glob("twim-*.zip"))
    assert len(drafts) == 1 and len(bundles) == 1, out
    assert f"Draft:  {drafts[0]}" in out
    assert f"Bundle: {bundles[0]}" in out
    markdown = drafts[0].read_text(encoding="utf-8")
    assert markdown.startswith('+++\ntitle = "This Week in Matrix ')
    assert "\n+++\n" in markdown
    # The first lines of the draft are on the terminal.
    assert "  │ +++" in out
    samples = load_samples()
    stored = [s for s in samples if len(s.text) >= 30]
    refused = [s for s in samples if len(s.text) < 30]
    assert len(samples) >= 12 and refused, "the samples include a too-short one"
    for sample in stored:
        # Every accepted sample is in the draft, attributed with its display name.
        assert f"](https://matrix.to/#/@{sample.user}:localhost) " in markdown, sample.name
    for sample in refused:
        assert sample.text not in markdown
        assert f"✋ {sample.name}: not stored" in out
    for heading in (
        "## Dept of Spec 📜",
        "## Dept of Servers 🏢",
        "### Conduit ([website](https://conduit.rs))",
        "### Synapse ([website](https://github.com/element-hq/synapse/))",
        "## Dept of Clients 📱",
        "### Nheko ([website](https://nheko-reborn.github.io))",
        "## Dept of SDKs and Frameworks 🧰",
    ):
        assert heading in markdown, heading
    # The edited submission shows its edited text, not the first one alone.
    edited = next(s for s in samples if s.first_text)
    assert f"> {edited.text.splitlines()[0]}" in markdown
    # The editor's reaction sorted Danielle's entry under its project.
    sorted_by_editor = next(s for s in samples if s.editor_reaction)
    assert "### Element Web/Desktop" in markdown, sorted_by_editor.editor_reaction
    # The screenshot is in the Markdown and in the bundle under the same name.
    images = re.findall(r"^> !\[\]\(/blog/img/([0-9a-f]+\.png)\)$", markdown, re.MULTILINE)
    assert len(images) == 1
    with zipfile.ZipFile(bundles[0]) as bundle:
        names = bundle.namelist()
        assert drafts[0].name in names
        assert images[0] in names
        screenshot = next(s for s in samples if s.screenshot)
        packaged = (ROOT / "twimbot" / "demo_data" / str(screenshot.screenshot)).read_bytes()
        assert bundle.read(images[0]) == packaged
    # Acknowledgements were shown, one per stored sample.
    assert len(re.findall(r"^\s+✅ .+, acknowledged in \d+ ms", out, re.MULTILINE)) == len(stored)
    # The database is readable without a homeserver.
    status = subprocess.run(
        [sys.executable, "-m", "twimbot", "status", "-c", str(workdir / "twimbot.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert status.returncode == 0, status.stderr
    assert f": {len(stored)} entries" in status.stdout
    # Nothing the demo started is left: no Synapse (or anything else) on its workdir.
    assert _processes_mentioning(str(workdir)) == []
    print(f"demo took {elapsed:.1f} s")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="process check reads /proc (Linux)")
def test_demo_interrupted_stops_everything(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    with open(tmp_path / "out.txt", "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "twimbot", "demo", "--workdir", str(workdir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
            cwd=tmp_path,
        )
        try:
            # Interrupt once the bot is running (step 5 is posting), as a user's Ctrl-C would.
            deadline = time.monotonic() + 60
            while "[5/8]" not in (tmp_path / "out.txt").read_text(errors="replace"):
                assert proc.poll() is None, (tmp_path / "out.txt").read_text(errors="replace")
                assert time.monotonic() < deadline, "the demo did not reach step 5"
                time.sleep(0.05)
            assert _processes_mentioning(str(workdir / "synapse")), "Synapse should be running"
            proc.send_signal(signal.SIGINT)
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = (tmp_path / "out.txt").read_text(errors="replace")
    assert code == 130, text
    assert "interrupted" in text
    assert "Traceback" not in text
    assert _processes_mentioning(str(workdir)) == []
