"""Progress lines (`hierarchy.run.progress`), checked against hand-written strings."""

import math

from hierarchy.run import progress


def test_format_duration():
    assert progress.format_duration(0) == "0m00s"
    assert progress.format_duration(65.4) == "1m05s"
    assert progress.format_duration(3723) == "1h02m03s"
    assert progress.format_duration(float("inf")) == "?"


def test_mean_ignores_missing_values():
    assert progress.mean([1.0, None, 2.0]) == 1.5
    assert math.isnan(progress.mean([None]))


def test_progress_line():
    recent = [(-10.0, True), (-20.0, False), (-30.0, None)]
    assert progress.progress_line(250, 1000, 12.34, recent, eta=3723) == (
        "step 250/1000 (25.0%) | 12.3 steps/s | return -20.00 | success 0.50 (last 3 episodes) | "
        "ETA 1h02m03s")
    assert progress.progress_line(100, 300, 5.0, [], eta=None) == (
        "step 100/300 (33.3%) | 5.0 steps/s | ETA once learning has run one log interval")


def test_the_rate_ignores_a_wall_clock_jump(monkeypatch):
    """The wall clock set back an hour between two lines (NTP, a suspended machine) leaves the rate
    and the ETA measured on the monotonic clock."""
    import time

    lines = []
    monkeypatch.setattr(progress.logging, "info", lambda line: lines.append(line))
    monkeypatch.setattr(progress.tf.summary, "scalar", lambda *args, **kwargs: None)
    wall = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: wall[0])
    log = progress.ProgressLog(total_steps=1000, start_step=0, warmup_steps=0)
    time.sleep(0.05)
    wall[0] -= 3600.0
    log.log(100, [])
    rate = float(lines[0].split("|")[1].split()[0])
    assert 0 < rate < 100 / 0.04 and "ETA" in lines[0] and "?" not in lines[0]
