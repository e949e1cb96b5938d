"""benchmarks.performance.throughput: the report arithmetic (fast) and a --quick run (slow: 1-2
minutes)."""

import json

import numpy as np
import pytest

RESULTS = {
    "flat": {"loop": [300.0, 100.0, 200.0], "ceiling": [400.0, 250.0, 300.0],
             "fused": [350.0, 200.0, 250.0], "bound": [360.0, 200.0, 240.0],
             "env_alone": [5000.0, 4000.0, 4500.0]},
    "hrl_cg2": {"loop": [170.0, 180.0, 190.0], "ceiling": [200.0, 200.0, 200.0]},
    "tf_agents": {"loop": [100.0, 80.0, 150.0], "ceiling": [500.0, 500.0, 400.0]},
}


def test_summary_medians_and_ratios(throughput):
    s = throughput.summarize(RESULTS)
    assert s["medians"]["flat"] == {"loop": 200.0, "ceiling": 300.0, "fused": 250.0, "bound": 240.0,
                                    "env_alone": 4500.0}
    r = {k: v["value"] for k, v in s["ratios"].items()}
    assert r["flat loop / own ceiling"] == pytest.approx(200 / 300)
    assert r["flat loop / own fused call"] == pytest.approx(200 / 250)
    assert r["flat bound / own ceiling"] == pytest.approx(240 / 300)
    assert r["flat loop / own bound"] == pytest.approx(200 / 240)
    assert "hrl_cg2 bound / own ceiling" not in r
    assert r["flat loop / tf_agents loop"] == pytest.approx(2.0)
    assert r["hrl_cg2 loop / flat loop"] == pytest.approx(180 / 200)
    assert r["flat ceiling / tf_agents ceiling"] == pytest.approx(300 / 500)
    assert r["tf_agents loop / own ceiling"] == pytest.approx(100 / 500)
    assert "tf_agents loop / own fused call" not in r
    # Paired per-repeat ratios: flat / tf_agents loops are 3.0, 1.25, 1.333...
    paired = s["ratios"]["flat loop / tf_agents loop"]
    assert paired["paired_median"] == pytest.approx(200 / 150)
    assert (paired["paired_min"], paired["paired_max"]) == pytest.approx((1.25, 3.0))


def test_markdown_table(throughput):
    config = dict(env="Ant-v5", steps=10, warmup_steps=5, ceiling_calls=3, repeats=3, when="now",
                  hidden=[256, 256], batch_size=256, machine="here", command="python x.py")
    text = throughput.markdown(throughput.summarize(RESULTS), RESULTS, config)
    assert "| flat | ours, flat TD3 (1 level) | 200 | 100-300 | 300 | 250-400 | 250 | 240 | 4500 " \
           "| 0.667 | 0.800 |" in text
    assert "| tf_agents | tf-agents Td3Agent (driver + replay + dataset) | 100 | 80-150 | 500 | " \
           "400-500 | - | - | - | 0.200 | - |" in text
    assert "| flat loop / tf_agents loop | 2.000 | 1.333 | 1.250-3.000 | >= 1.5 (met) |" in text
    assert "| flat loop / own ceiling | 0.667 | 0.667 | 0.400-0.750 | >= 0.85 (NOT met) |" in text
    assert "Command: `python x.py`" in text


def test_unknown_loop_is_an_error(throughput):
    with pytest.raises(SystemExit):
        throughput.parse_args(["--loops", "flat,sac"])


def test_flat_loop_runs_the_standard_schedule(throughput):
    """The flat loop trains on the standard schedule: every step after the warm-up runs a critic
    update, every second one the actor; transitions are all stored."""
    for loop in [throughput.OurLoop("Pendulum-v1", 1, 0.0, warmup_steps=20, seed=0, hidden=(8, 8),
                                    batch_size=8)]:
        loop.run(50)
        assert loop.agent.critic_updates == [30] and len(loop.agent.buffers[0]) == 50
        losses = loop.agent.last_losses
        assert np.all(np.isfinite(losses.table()[0, :2])) and losses.actor[0] != 0


@pytest.mark.slow
def test_quick_run(throughput, tmp_path, request):
    # Runs only when slow tests are selected (`pytest -m slow`): the project's pytest options do not
    # exclude the marker by themselves.
    markexpr = request.config.getoption("markexpr") or ""
    if "slow" not in markexpr or "not slow" in markexpr:
        pytest.skip("slow (~1-2 minutes); run with -m slow")
    record = throughput.main(["--quick", "--out_dir", str(tmp_path)])
    assert set(record["medians"]) == set(throughput.default_loops())
    for name, m in record["medians"].items():
        assert m["loop"] > 0 and m["ceiling"] > 0, name
        for part in ("fused", "bound", "env_alone"):
            assert (part in m) == (name != "tf_agents"), (name, part)
    saved = json.loads((tmp_path / "throughput_quick.json").read_text())
    assert saved["ratios"].keys() == record["ratios"].keys()
    if throughput.HAS_TF_AGENTS:
        assert "| flat loop / tf_agents loop |" in (tmp_path / "throughput_quick.md").read_text()


def test_hiro2_is_hrl2_with_the_correction(throughput):
    loops = {name: throughput.make_loop(name, "hierarchy/PointReach-v0", warmup_steps=10, seed=0,
                                        hidden=(8, 8), batch_size=8) for name in ("hrl2", "hiro2")}
    hrl2, hiro2 = loops["hrl2"].hierarchy, loops["hiro2"].hierarchy
    assert hrl2.corrections == [None, None]
    assert hiro2.corrections[0].num_candidates == throughput.CANDIDATES == 10
    assert hiro2.periods == hrl2.periods == [throughput.PERIOD]
    assert hiro2.cg_lambda == hrl2.cg_lambda == [0.0]
    for loop in loops.values():
        loop.run(40)
        assert loop.agent.critic_updates[0] > 0
    results = {"hrl2": {"loop": [100.0, 120.0], "ceiling": [1.0, 1.0]},
               "hiro2": {"loop": [95.0, 96.0], "ceiling": [1.0, 1.0]}}
    ratio = throughput.summarize(results)["ratios"]["hiro2 loop / hrl2 loop"]
    assert ratio["paired_min"] == pytest.approx(0.8) and ratio["paired_max"] == pytest.approx(0.95)
