"""House rules that keep the architecture honest."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    """pyproject.toml's [tool.importlinter] contracts: no Qt in the engine, the layers, no import cycles.
    lint-imports reads function-level imports too, so a lazy import does not slip past."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and "0 broken" in out.stdout, out.stdout[-3000:] + out.stderr[-2000:]
    assert out.stdout.count(" KEPT") >= 4  # every contract ran (a deleted one would not be checked)


def test_every_engine_module_has_a_layer():
    """A new engine module must be placed in the layers contract, or nothing checks what it imports."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    placed = {m.strip() for layer in layers for m in layer.replace("|", ":").split(":")}
    modules = {f"engine.{p.stem}" for p in (ROOT / "engine").glob("*.py") if not p.stem.startswith("__")}
    modules |= {f"engine.{p.parent.name}" for p in (ROOT / "engine").glob("*/__init__.py")}
    assert modules - placed == set()


def _exception_classes() -> list[tuple[str, str]]:
    """(module, class) of every class in engine/ and omfa_desktop/ that derives from an exception by name."""
    import builtins

    builtin = {n for n in dir(builtins) if isinstance(getattr(builtins, n), type)
               and issubclass(getattr(builtins, n), BaseException)}
    found = []
    for path in sorted([*(ROOT / "engine").rglob("*.py"), *(ROOT / "omfa_desktop").rglob("*.py")]):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b).split(".")[-1] for b in node.bases}
                if bases & builtin or any(b.endswith(("Error", "Exception")) for b in bases):
                    found.append((module, node.name))
    return found


def test_every_project_exception_is_an_omfa_error():
    import importlib

    from engine.errors import OmfaError

    classes = _exception_classes()
    assert len(classes) > 20  # the scan sees them (ImageError, RequestError, ModelError, ...)
    outside = [f"{m}.{c}" for m, c in classes if not issubclass(getattr(importlib.import_module(m), c), OmfaError)]
    assert not outside


def test_errors_live_with_their_concepts():
    import engine.body.estimate as estimate
    import engine.body.hmr2 as hmr2
    import engine.errors as errors
    import engine.model as model

    assert model.ModelError is errors.ModelError and issubclass(model.ModelError, RuntimeError)
    assert estimate.PoseEstimate.__module__ == "engine.body.estimate" and hmr2.PoseEstimate is estimate.PoseEstimate


def test_importing_the_engine_loads_no_qt():
    code = ("import sys, engine.pipeline, engine.cli, engine.train, engine.body.render, engine.data.synthetic; "
            "print([m for m in sys.modules if m.startswith(('PySide6', 'PyQt'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_no_pickle_loading_in_the_engine():
    for path in (ROOT / "engine").rglob("*.py"):
        text = path.read_text()
        assert "pickle.load" not in text and "torch.load(" not in text, path


def test_ruff_is_clean():
    """pyproject.toml's [tool.ruff] rules hold over the whole repository."""
    ruff = Path(sys.executable).with_name("ruff")
    out = subprocess.run([str(ruff), "check", "--no-cache", "--output-format", "concise", "."], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]


def test_the_qapplication_is_made_in_one_place():
    """omfa_desktop/startup.py makes the QApplication; the app, the kiosk and the screenshot scripts use it."""
    makers = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "omfa_desktop").rglob("*.py")
                    if "QApplication(" in p.read_text())
    assert makers == ["omfa_desktop/startup.py"]


def test_no_file_points_outside_the_repository():
    """Docs, code and scripts name files inside the repository only (a clone must be complete)."""
    outside = ("/wo" + "rk/", "../sha" + "red")  # split so this file does not match itself
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "build", "dist", "runs", "out"}
    hits = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if skip & set(rel.parts) or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary (images, weights)
        hits += [f"{rel}: {p}" for p in outside if p in text]
    assert not hits
