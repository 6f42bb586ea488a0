"""The memory probe sees memory that child processes allocate, not only its own."""

from __future__ import annotations

import subprocess
import sys
import time

from bakeoff.probe import TreeMemoryProbe

MIB = 2**20

ALLOCATE = """
import sys, time
block = bytearray(b"\\x01") * ({size})   # every page written, so it is resident
print("allocated", flush=True)
time.sleep(1.0)
"""


def test_probe_sees_a_child_allocating_500_mb():
    size = 500 * MIB
    with TreeMemoryProbe(interval_s=0.01) as probe:
        child = subprocess.Popen(
            [sys.executable, "-c", ALLOCATE.format(size=size)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout.readline().strip() == "allocated"
        child.wait(timeout=30)
    report = probe.report
    assert abs(report.peak_bytes - size) <= 0.10 * size, report.peak_bytes / MIB
    assert report.samples > 10


def test_probe_reports_growth_above_the_baseline_only():
    ballast = bytearray(b"\x01") * (200 * MIB)  # held before the probe starts
    with TreeMemoryProbe(interval_s=0.01) as probe:
        time.sleep(0.2)
    assert probe.report.peak_bytes < 50 * MIB
    assert probe.report.baseline_bytes > 200 * MIB
    del ballast


def test_probe_flags_a_limit_once():
    hits = []
    with TreeMemoryProbe(interval_s=0.01, limit_bytes=1, on_exceed=hits.append) as probe:
        time.sleep(0.1)
    assert probe.exceeded
    assert len(hits) == 1
