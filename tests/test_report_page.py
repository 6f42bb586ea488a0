"""``report.html`` in a real browser at 1400 px: headless Chromium opens it offline, with no
console error and no request beyond the file; every image loads and a heatmap is tall enough
to read; the verdict on top names each family's winner with the numbers of results.csv; the
page never scrolls sideways, even with every collapsed section open; a table sorts."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from bakeoff.report import write_report
from tests.chromium import chromium_binary, open_page
from tests.report_fixture import results_with_failures

WIDTH = 1400
ROW_COUNTS = """Object.fromEntries([...document.querySelectorAll('table')].map(
    t => [t.id, t.tBodies[0].rows.length]))"""
IMAGES = """[...document.images].map(i => [i.alt, i.complete && i.naturalWidth > 0,
    i.src.startsWith('data:image/png;base64,'), i.naturalHeight,
    i.getBoundingClientRect().height])"""
FAILED_CELLS = """[...document.querySelectorAll('#times_groupby_30000 td.failed')].map(
    td => td.textContent)"""
COLLAPSED = "[...document.querySelectorAll('details')].map(d => [d.id, d.open])"
OPEN_ALL = """[...document.querySelectorAll('details > summary')].forEach(s => s.click());
    [...document.querySelectorAll('details')].map(d => [d.id, d.open])"""
WIDTHS = "[document.documentElement.scrollWidth, window.innerWidth]"
FIRST_ELEMENTS = "[...document.body.children].slice(0, 3).map(e => e.id || e.tagName)"


def column(table: str, name: str) -> str:
    """JavaScript: the texts of one column of a table, in the order shown."""
    return f"""(() => {{ const t = document.getElementById('{table}');
        const i = [...t.tHead.rows[0].cells].findIndex(c => c.textContent === '{name}');
        return [...t.tBodies[0].rows].map(r => r.cells[i].textContent); }})()"""


def click_header(table: str, name: str) -> str:
    return f"""[...document.getElementById('{table}').tHead.rows[0].cells]
        .find(c => c.textContent === '{name}').click()"""


@pytest.fixture(scope="module")
def browser() -> str:
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; `make test` installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return binary


def expected_winners(results_csv: Path) -> dict[str, tuple[str, float]]:
    """Read back from results.csv, independently of the report's code: per scale, the engine
    with the lowest total median time over the questions every contender answered (the
    contenders: engines that answered all; if none did, all of them)."""
    with open(results_csv) as handle:
        rows = [r for r in csv.DictReader(handle) if r["source"] == "asv"]
    found = {}
    for scale in sorted({r["rows"] for r in rows}, key=int):
        here = [r for r in rows if r["rows"] == scale]
        labels = {f"{r['engine']}=={r['pinned']}" if r["pinned"] else r["engine"]: [] for r in here}
        times = {(lb, r["workload"]): None for lb in labels for r in here}
        for r in here:
            label = f"{r['engine']}=={r['pinned']}" if r["pinned"] else r["engine"]
            if r["status"] == "ok":
                times[label, r["workload"]] = float(r["time_s"])
        workloads = sorted({w for _, w in times})
        complete = [lb for lb in labels if all(times[lb, w] is not None for w in workloads)]
        contenders = complete or list(labels)
        common = [w for w in workloads if all(times[lb, w] is not None for lb in contenders)]
        totals = {lb: sum(times[lb, w] for w in common) for lb in contenders}
        winner = min(totals, key=totals.__getitem__)
        found[scale] = (winner, totals[winner])
    return found


def test_report_page_in_headless_chromium(tmp_path, browser):
    results = results_with_failures(tmp_path / "results")
    page_path = write_report(results, data_dirs=[results / "data"])
    with open_page(page_path, browser, width=WIDTH) as page:
        counts = page.evaluate(ROW_COUNTS)
        images = page.evaluate(IMAGES)
        failed = page.evaluate(FAILED_CELLS)
        title = page.evaluate("document.title")
        first = page.evaluate(FIRST_ELEMENTS)
        verdict = page.evaluate("document.getElementById('verdict').innerText")
        collapsed = page.evaluate(COLLAPSED)
        narrow = page.evaluate(WIDTHS)
        opened = page.evaluate(OPEN_ALL)
        still_narrow = page.evaluate(WIDTHS)
        page.evaluate(click_header("all_results", "time_s"))
        ascending = page.evaluate(column("all_results", "time_s"))
        page.evaluate(click_header("all_results", "time_s"))
        descending = page.evaluate(column("all_results", "time_s"))
        page.evaluate(click_header("all_results", "label"))
        by_label = page.evaluate(column("all_results", "label"))
        assert page.errors == []
        outside = [url for url in page.requests if not url.startswith(("data:", "file:"))]
        assert outside == []  # nothing from the network, not even a favicon
    assert title == "bakeoff report"
    assert first[:2] == ["H1", "P"] and first[2] == "verdict"  # the verdict comes first
    assert len(images) == 6 and all(loaded and inline for _, loaded, inline, *_ in images)
    heatmaps = [i for i in images if "relative to the fastest" in i[0]]
    assert len(heatmaps) == 2
    assert all(natural >= 300 and shown >= 300 for *_, natural, shown in heatmaps), heatmaps
    # no horizontal scroll at 1400 px, collapsed or open
    assert narrow[1] == WIDTH and narrow[0] <= narrow[1] and still_narrow[0] <= still_narrow[1]
    assert {name for name, _ in collapsed} >= {"settings", "datasets", "all_results_section"}
    assert not any(is_open for _, is_open in collapsed)
    assert all(is_open for _, is_open in opened)
    # the verdict: each scale's winner and its total, as results.csv has them
    for scale, (winner, total) in expected_winners(results / "results.csv").items():
        at = f"at {'1e4' if scale == '10000' else '3e4'} rows {winner} is fastest"
        assert at in verdict, (at, verdict)
        assert f"{total * 1000:.3g} ms in total" in verdict.split(at, 1)[1][:200]
    assert "Combined score" in verdict
    # the table sorts: numbers ascending then descending (empty cells last), text as text
    numbers = [float(v) for v in ascending if v]
    assert numbers == sorted(numbers) and ascending[len(numbers) :] == [""] * (32 - len(numbers))
    assert [float(v) for v in descending if v] == sorted(numbers, reverse=True)
    assert by_label == sorted(by_label)
    assert counts["times_groupby_10000"] == 5 and counts["times_groupby_30000"] == 5
    assert counts["failures"] == 6 and counts["ab"] == 10 and counts["single_runs"] == 2
    assert counts["all_results"] == 32 and counts["engines"] >= 3
    assert counts["datasets"] == 3 and counts["machines"] == 1
    assert sorted(failed) == ["asv failed", "out of memory", "wrong answer"]
