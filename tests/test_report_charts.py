"""Charts draw whatever the results hold: only failures, zero peaks, a single point."""

from __future__ import annotations

import pytest

from bakeoff.report.charts import _log_axis, _pyplot


@pytest.mark.parametrize(
    ("xs", "ys", "log_y"),
    [([], [], False), ([1e4], [0.0], False), ([1e4], [5.0], True), ([1e4, 1e5], [0.0, 2.0], True)],
    ids=["nothing", "zero-peak", "one-point", "zero-and-positive"],
)
def test_a_log_axis_only_where_there_is_something_to_put_on_it(tmp_path, xs, ys, log_y):
    plt = _pyplot()
    figure, axis = plt.subplots()
    axis.plot(xs, ys)
    _log_axis(axis, "x")
    _log_axis(axis, "y")
    figure.savefig(tmp_path / "chart.png")  # the old charts raised here on nothing positive
    assert (axis.get_yscale() == "log") is log_y
    plt.close(figure)
