"""benchmarks/compare_evals.py: paired differences of two eval reports, and a refusal when they are not paired."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("compare_evals", ROOT / "benchmarks" / "compare_evals.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def report(iou, de, n=None, split="val"):
    n = n or len(iou)
    metrics = [{"key": "iou", "higher_is_better": True}, {"key": "de", "higher_is_better": False}]
    return {"settings": {"split": split, "world_seed": 0, "n": n, "seed": 0},
            "tasks": [{"task": "try-on", "metrics": metrics, "per_sample": {"model": {"iou": iou, "de": de}}}]}


def test_verdicts_follow_the_metric_direction_and_the_interval():
    base = report([0.90, 0.91, 0.92, 0.93] * 4, [10.0, 12.0, 11.0, 9.0] * 4)
    other = report([0.92, 0.93, 0.94, 0.95] * 4, [10.5, 11.0, 12.0, 8.0] * 4)  # IoU +0.02 every time; ΔE mixed
    res = _tool().compare(base, other)["try-on"]
    assert res["iou"]["verdict"] == "better" and res["iou"]["diff"] == pytest.approx(0.02)
    assert res["de"]["verdict"] == "within CI"
    worse = _tool().compare(other, base)["try-on"]
    assert worse["iou"]["verdict"] == "worse"


def test_reports_of_other_samples_are_refused(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report([0.9, 0.8], [1.0, 2.0])))
    b.write_text(json.dumps(report([0.9, 0.8], [1.0, 2.0], split="test")))
    with pytest.raises(SystemExit, match="split"):
        _tool().main([str(a), str(b)])
