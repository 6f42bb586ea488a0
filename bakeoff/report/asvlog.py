"""asv's own reason for a failed benchmark, read back from its output.

asv keeps a failed benchmark's stderr out of its result files (they hold only ``null``), so
``bakeoff bench`` and ``bakeoff continuous`` keep asv's output in ``results/asv-output.log``
and the report reads the reason from there: the last line asv printed under the failure,
for the parameters it names, or for the whole benchmark when the process died.
"""

from __future__ import annotations

import re
from pathlib import Path

LOG_NAME = "asv-output.log"
_PROGRESS = re.compile(r"^\[\s*[\d.]+%\] (?P<dots>·+) (?P<text>.*)$")
_COMMIT = re.compile(r"^For \S+ commit (?P<commit>[0-9a-f]+)")
_ENVIRONMENT = re.compile(r"^Benchmarking (?P<env>\S+)")
_BENCHMARK = re.compile(r"^(?P<name>\S+)\s+failed$")
_PARAMETERS = re.compile(r"^For parameters: (?P<params>.*)$")

Reasons = dict[tuple[str, str, str, str], str]  # (commit prefix, env, benchmark, params) -> why
ANY_PARAMS = "*"


def _params_key(workload: str, rows: int) -> str:
    return f"'{workload}', {rows}"


class _Reader:
    """Follows asv's output line by line: which commit, environment and failed benchmark the
    lines from a ``····`` marker on belong to."""

    def __init__(self) -> None:
        self.reasons: Reasons = {}
        self.commit = self.env = self.failed = ""
        self.params = ANY_PARAMS
        self.lines: list[str] | None = None  # None until a failure's output starts

    def close(self) -> None:
        text = [line for line in self.lines or [] if line.strip()]
        if self.failed and text:
            self.reasons[self.commit, self.env, self.failed, self.params] = text[-1].strip()
        self.lines, self.params = None, ANY_PARAMS

    def _output(self, text: str) -> None:
        if parameters := _PARAMETERS.match(text.strip()):
            self.close()
            self.params = parameters["params"].strip()
            self.lines = []
        elif self.lines is not None:
            self.lines.append(text)

    def feed(self, line: str) -> None:
        progress = _PROGRESS.match(line)
        if progress is None:
            if line[:1].strip():  # not asv's indented continuation: its output ended
                self.close()
            elif self.lines is not None:
                self._output(line)
            return
        text = progress["text"].strip()
        if len(progress["dots"]) >= 4:
            if self.failed:
                self.lines = [] if self.lines is None else self.lines
                self._output(text)
            return
        self.close()
        if commit := _COMMIT.match(text):
            self.commit = commit["commit"]
        elif environment := _ENVIRONMENT.match(text):
            self.env = environment["env"]
        elif not text.startswith("="):  # a benchmark's line, not its results table
            failed = _BENCHMARK.match(text)
            self.failed = failed["name"] if failed else ""


def failure_reasons(text: str) -> Reasons:
    reader = _Reader()
    for line in text.splitlines():
        reader.feed(line)
    reader.close()
    return reader.reasons


def read_reasons(results: Path) -> Reasons:
    log = results / LOG_NAME
    return failure_reasons(log.read_text(errors="replace")) if log.exists() else {}


def reason_for(
    reasons: Reasons, commit: str, env: str, benchmark: str, workload: str, rows: int
) -> str:
    """asv's reason for one parameter combination, else for the whole benchmark."""
    for wanted in (_params_key(workload, rows), ANY_PARAMS):
        for (prefix, name, bench, params), why in reasons.items():
            if params == wanted and commit.startswith(prefix) and (name, bench) == (env, benchmark):
                return why
    return ""
