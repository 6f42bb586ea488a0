"""``report.html`` in a real browser: headless Chromium opens it offline, with no console
error and no request beyond the file, every image loads, the tables hold their rows, and a
failed cell shows its label."""

from __future__ import annotations

import os

import pytest

from bakeoff.report import write_report
from tests.chromium import chromium_binary, open_page
from tests.report_fixture import results_with_failures

ROW_COUNTS = """Object.fromEntries([...document.querySelectorAll('table')].map(
    t => [t.id, t.tBodies[0].rows.length]))"""
IMAGES = """[...document.images].map(i => [i.alt, i.complete && i.naturalWidth > 0,
    i.src.startsWith('data:image/png;base64,')])"""
FAILED_CELLS = """[...document.querySelectorAll('#times_groupby_30000 td.failed')].map(
    td => td.textContent)"""


@pytest.fixture(scope="module")
def browser() -> str:
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; `make test` installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return binary


def test_report_page_in_headless_chromium(tmp_path, browser):
    results = results_with_failures(tmp_path / "results")
    page_path = write_report(results, data_dirs=[results / "data"])
    with open_page(page_path, browser) as page:
        counts = page.evaluate(ROW_COUNTS)
        images = page.evaluate(IMAGES)
        failed = page.evaluate(FAILED_CELLS)
        title = page.evaluate("document.title")
        assert page.errors == []
        outside = [url for url in page.requests if not url.startswith(("data:", "file:"))]
        assert outside == []  # nothing from the network, not even a favicon
    assert title == "bakeoff report"
    assert len(images) == 6 and all(loaded and inline for _, loaded, inline in images), images
    assert counts["times_groupby_10000"] == 5 and counts["times_groupby_30000"] == 5
    assert counts["failures"] == 6 and counts["ab"] == 10 and counts["single_runs"] == 2
    assert counts["all_results"] == 32 and counts["engines"] >= 3
    assert counts["datasets"] == 3 and counts["machines"] == 1
    assert sorted(failed) == ["asv failed", "out of memory", "wrong answer"]
