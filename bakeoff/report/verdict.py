"""The verdict: what the results mean for a choice, in a few sentences generated from them.

Per ranking group (a family, or its ML-library variants) one sentence: at each scale the
fastest engine, its margin over the next one (and that margin over the interquartile ranges),
and the leanest. Then where the frontier says each engine stops under each memory cap, and
the combined score. Every number comes from the cells; nothing is written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from bakeoff.frontier import FrontierCell, stopped_at
from bakeoff.load import BUSY_OTHER_SHARE
from bakeoff.report import summary
from bakeoff.report.summary import Best, Key
from bakeoff.report.table import FAILURE_LABELS, Row
from datagen.dataset import format_rows
from shared.units import format_bytes

FrontierCells = dict[tuple[str, str, int, int], FrontierCell]
BUSY_MARK = "‡"  # a cell measured while other processes used the cores
BUSY_NOTE = (
    f"measured while other processes used more than {BUSY_OTHER_SHARE:.0%} of the cores "
    "before, during or after its validated run: its time may be slower and noisier than the "
    "engine is."
)


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.3g} ms" if value < 1 else f"{value:.3g} s"


def size(value: float | None) -> str:
    return format_bytes(value) if value is not None else "-"


def _names(labels: list[str]) -> str:
    return ", ".join(labels)


def scale_clause(best: Best) -> str:
    """One scale of a group: the winner and its margin, or why there is none."""
    at = f"at {format_rows(best.rows)} rows"
    if best.fastest is None:
        return f"{at} no engine answered any question"
    scope = ""
    if not best.complete:
        scope = (
            f" (no engine answered all {len(best.asked)} questions; ranked on the "
            f"{len(best.questions)} every engine answered: {_names(best.questions)})"
        )
    elif len(best.complete) == 1 and best.runner_up is None:
        return (
            f"{at} {best.fastest} is fastest, the only engine that answered all "
            f"{len(best.questions)} questions ({seconds(best.fastest_s)} in total, peak "
            f"{size(best.leanest_bytes)})"
        )
    text = f"{at} {best.fastest} is fastest ({seconds(best.fastest_s)} in total){scope}"
    if best.runner_up is not None and best.margin is not None:
        text += (
            f", {best.margin:.1f}x faster than {best.runner_up} "
            f"({best.margin_low:.1f}x to {best.margin_high:.1f}x across the interquartile "
            "ranges)"
        )
    if best.leanest is not None:
        lean = "also the leanest" if best.leanest == best.fastest else f"{best.leanest} the leanest"
        text += f"; {lean} (peak {size(best.leanest_bytes)})"
    return text


def group_sentence(group: str, found: list[Best]) -> str:
    clauses = [scale_clause(best) for best in found]
    absent = sorted({label for best in found for label in best.unanswered})
    sentence = f"{group}: " + "; ".join(clauses) + "."
    if absent:
        sentence += f" Not ranked, no answer here: {_names(absent)}."
    return sentence


@dataclass(frozen=True)
class Reach:
    """How far one engine got with one family under one cap."""

    engine: str
    family: str
    cap_bytes: int
    largest: int | None  # the largest scale completed below where it stopped
    stop: FrontierCell | None


def reach(cells: FrontierCells) -> list[Reach]:
    """Per family, cap and engine: the largest scale completed and where it stopped."""
    found = []
    for family in sorted({cell.family for cell in cells.values()}):
        mine = {key: cell for key, cell in cells.items() if cell.family == family}
        scales = sorted({cell.rows for cell in mine.values()})
        for cap in sorted({cell.cap_bytes for cell in mine.values()}):
            for engine in sorted({cell.engine for cell in mine.values()}):
                stop = stopped_at(mine, engine, family, cap)
                done = [
                    rows
                    for rows in scales
                    if (stop is None or rows < stop.rows)
                    and (cell := mine.get((engine, family, cap, rows))) is not None
                    and cell.completed
                ]
                found.append(Reach(engine, family, cap, max(done, default=None), stop))
    return found


def _stop_text(stop: FrontierCell) -> str:
    failed = stop.failure
    if failed is None:
        return "nothing it could answer"
    return f"{FAILURE_LABELS.get(failed.status, failed.status)} on {failed.workload}"


def frontier_sentences(cells: FrontierCells) -> list[str]:
    """One sentence: per family and cap, the largest scale each engine completed and what
    stopped it."""
    by_cap: dict[tuple[str, int], list[str]] = {}
    for r in reach(cells):
        went = f"{r.engine} {format_rows(r.largest) if r.largest else 'no scale'}"
        if r.stop is not None:
            went += f" (stops at {format_rows(r.stop.rows)}: {_stop_text(r.stop)})"
        by_cap.setdefault((r.family, r.cap_bytes), []).append(went)
    if not by_cap:
        return []
    parts = [
        f"{family} under {format_bytes(cap)}: " + ", ".join(engines)
        for (family, cap), engines in by_cap.items()
    ]
    return ["Larger than memory, the largest scale completed: " + "; ".join(parts) + "."]


def score_sentence(cells: dict[Key, Row]) -> str | None:
    scores = sorted(summary.combined_scores(cells).items(), key=lambda item: item[1])
    if not scores:
        return None
    questions = len({(key[1], key[2]) for key in cells})
    ranked = ", ".join(f"{label} {score:.2f}" for label, score in scores)
    return (
        f"Combined score over {questions} questions (ClickBench method, 1.00 = fastest "
        f"everywhere, lower is better): {ranked}."
    )


def busy_sentence(cells: dict[Key, Row]) -> str | None:
    """Which cells were measured on a busy machine, so their times are taken with care."""
    busy = sorted(f"{key[0]} {key[1]}" for key, row in cells.items() if row.busy)
    if not busy:
        return None
    shown = _names(busy[:5]) + (f" and {len(busy) - 5} more" if len(busy) > 5 else "")
    return (
        f"{len(busy)} of {len(cells)} cells (marked {BUSY_MARK}) were measured while other "
        f"processes used more than {BUSY_OTHER_SHARE:.0%} of the cores: {shown}. Their times "
        "may be slower and noisier than the engines are; measure them again on an idle "
        "machine (`bakeoff bench --rerun`)."
    )


def sentences(cells: dict[Key, Row], frontier_cells: FrontierCells) -> list[str]:
    """The verdict, in reading order: each group, the frontier, the combined score, and
    which cells were measured on a busy machine."""
    by_group: dict[str, list[Best]] = {}
    for best in summary.best_per_family(cells):
        by_group.setdefault(best.family, []).append(best)
    found = [group_sentence(group, bests) for group, bests in by_group.items()]
    found += frontier_sentences(frontier_cells)
    score = score_sentence(cells)
    return [*found, *(s for s in (score, busy_sentence(cells)) if s)]
