"""CPU thread policy (engine.threads) and a torch-free CLI start-up."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.threads import ThreadsError, check_threads, plan_threads, usable_cores

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_env_threads(monkeypatch):
    monkeypatch.delenv("OMFA_THREADS", raising=False)


@pytest.mark.parametrize("busy, cores, expected", [
    (0.0, 2, 2),     # idle: every core
    (0.2, 2, 2),     # a little background noise still leaves two cores
    (0.5, 2, 1),     # half a core busy: a second thread would be descheduled and stall the first
    (1.0, 2, 1),     # one CPU hog: one thread
    (7.0, 2, 1),     # badly oversubscribed: still one, never zero
    (1.0, 8, 7),
    (3.5, 8, 4),
])
def test_auto_threads_follow_the_free_cores(busy, cores, expected):
    plan = plan_threads(0, busy=busy, cores=cores)
    assert (plan.intra, plan.interop, plan.source) == (expected, 1, "auto")
    assert f"{busy:.1f} busy" in plan.reason


def test_explicit_count_beats_the_environment_which_beats_auto(monkeypatch):
    monkeypatch.setenv("OMFA_THREADS", "3")
    assert plan_threads(0, busy=0.0, cores=2).intra == 3
    assert plan_threads(0, busy=0.0, cores=2).source == "OMFA_THREADS"
    assert plan_threads(5, busy=0.0, cores=2).intra == 5
    assert "more than the 2 usable cores" in plan_threads(5, busy=0.0, cores=2).reason
    monkeypatch.setenv("OMFA_THREADS", "0")  # 0 = automatic, as everywhere
    assert plan_threads(0, busy=1.0, cores=2).source == "auto"


@pytest.mark.parametrize("bad", [-1, 1000, 2.5, True, "4"])
def test_bad_thread_counts_are_one_clear_line(bad):
    with pytest.raises(ThreadsError) as e:
        check_threads(bad)
    assert "whole number from 0 (automatic)" in str(e.value) and "\n" not in str(e.value)


def test_bad_environment_value_is_named(monkeypatch):
    monkeypatch.setenv("OMFA_THREADS", "many")
    with pytest.raises(ThreadsError, match="OMFA_THREADS must be a whole number"):
        plan_threads(0, busy=0.0, cores=2)


def test_measured_plan_is_within_the_usable_cores():
    cores = usable_cores()
    plan = plan_threads(0, window=0.05)
    assert 1 <= plan.intra <= cores and plan.cores == cores


def test_a_cpu_hog_is_seen_as_busy():
    from engine.threads import busy_cores

    hog = subprocess.Popen([sys.executable, "-c", "import time; t = time.time() + 5\nwhile time.time() < t: pass"])
    try:
        assert busy_cores(0.5) >= 0.6  # the hog's core (minus scheduler noise), whatever else runs
    finally:
        hog.kill()
        hog.wait()


def test_cli_threads_option_is_applied_and_reported(tmp_path):
    # A real try-off with --threads 1 in a fresh process: torch really runs with one thread.
    code = ("import sys, torch\nfrom engine.cli import main\n"
            "rc = main(sys.argv[1:])\nprint('THREADS', torch.get_num_threads(), torch.get_num_interop_threads())\n"
            "sys.exit(rc)")
    sample = ROOT / "resources" / "samples" / "demo_000_person.png"
    out = subprocess.run([sys.executable, "-c", code, "try-off", "--person", str(sample), "--steps", "2",
                          "--threads", "1", "--out", str(tmp_path / "o.png")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "OMFA_THREADS"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "threads: 1 thread(s) as set" in out.stderr
    assert "THREADS 1 1" in out.stdout


@pytest.mark.parametrize("bad", ["-2", "1000", "two"])
def test_cli_bad_threads_is_a_usage_error_before_any_work(capsys, bad):
    from engine.cli import main

    with pytest.raises(SystemExit) as e:
        main(["try-off", "--person", "missing.png", "--threads", bad])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "argument --threads: must be a whole number from 0 (automatic)" in err and "Traceback" not in err
    assert "missing.png" not in err  # refused before the photo is read


def test_cli_help_does_not_import_torch():
    # Building every parser (omfa --help, omfa try-off --help) must stay torch-free: torch costs ~1-2 s.
    code = ("import sys, contextlib, io\nfrom engine.cli import main\n"
            "for argv in (['--help'], ['try-off', '--help'], ['eval', '--help'], ['turntable', '--help']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try: main(argv)\n"
            "        except SystemExit: pass\n"
            "print(__import__('json').dumps(sorted(m for m in ('torch', 'diffusers', 'PySide6') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_scheduler_names_are_the_same_everywhere():
    from engine.diffusion import SCHEDULERS as from_diffusion
    from engine.presets import SCHEDULERS

    assert from_diffusion is SCHEDULERS and "dpm++2m" in SCHEDULERS


def test_headless_demo_uses_the_default_preset_not_50_steps(monkeypatch, tmp_path):
    from engine import cli
    from engine.cli.doctor import run_demo
    from engine.presets import DEFAULT_PRESET

    calls = []
    monkeypatch.setattr(cli, "main", lambda argv: calls.append(argv) or 0)
    assert run_demo(tmp_path) == 0
    doctor, try_off = calls
    assert doctor == ["doctor"] and try_off[0] == "try-off"
    assert try_off[try_off.index("--preset") + 1] == DEFAULT_PRESET and "--steps" not in try_off
    args = cli.build_parser().parse_args(["demo"])
    assert args.preset == DEFAULT_PRESET and args.steps is None
    calls.clear()
    run_demo(tmp_path, steps=7)
    assert calls[1][calls[1].index("--steps") + 1] == "7"
