"""House rules that keep the architecture honest."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_never_imports_qt_or_the_app():
    bad = {}
    for path in (ROOT / "engine").rglob("*.py"):
        hit = _imports(path) & {"PySide6", "PyQt5", "PyQt6", "shiboken6", "omfa_desktop"}
        if hit:
            bad[str(path.relative_to(ROOT))] = hit
    assert not bad


def test_importing_the_engine_loads_no_qt():
    code = ("import sys, engine.pipeline, engine.cli, engine.train, engine.body.render, engine.data.synthetic; "
            "print([m for m in sys.modules if m.startswith(('PySide6', 'PyQt'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_no_pickle_loading_in_the_engine():
    for path in (ROOT / "engine").rglob("*.py"):
        text = path.read_text()
        assert "pickle.load" not in text and "torch.load(" not in text, path
