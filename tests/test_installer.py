"""The installers (installer/, issue 11): the spec, hooks and scripts are valid and name what exists, the frozen
resource lookup, and the self-test. Building the bundle is not part of the suite (minutes):
``installer/build_linux.sh`` does it; ``OMFA_TEST_BUNDLE=dist/omfa-desktop`` runs that bundle's self-test here."""
from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer"
sys.path.insert(0, str(INSTALLER))
import bundle  # noqa: E402  (installer/bundle.py)


# ------------------------------------------------------------------------------------ spec, hooks, entries
@pytest.mark.parametrize("path", ["omfa.spec", "omfa_cli.py", "bundle.py", "make_icon.py", "rthooks/pyi_rth_omfa.py",
                                  *[f"hooks/{p.name}" for p in sorted((INSTALLER / "hooks").glob("*.py"))]])
def test_python_files_parse(path):
    ast.parse((INSTALLER / path).read_text(), filename=path)


def test_spec_names_what_exists():
    spec = (INSTALLER / "omfa.spec").read_text()
    for word in ("Analysis(", "PYZ(", "EXE(", "COLLECT(", "bundle.resource_datas", "bundle.keep_file",
                 "bundle.write_licenses", "bundle.smpl_files", "console=False", "console=True"):
        assert word in spec, word
    assert (INSTALLER / "hooks").is_dir() and '"hooks"' in spec
    assert (INSTALLER / "rthooks" / "pyi_rth_omfa.py").is_file() and "pyi_rth_omfa.py" in spec
    assert (ROOT / bundle.ENTRY_GUI).is_file() and (ROOT / bundle.ENTRY_CLI).is_file()
    assert spec.count("EXE(") == 2 and spec.count("Analysis(") == 1  # one analysis, two executables
    hooks = {p.stem for p in (INSTALLER / "hooks").glob("hook-*.py")}
    assert {"hook-diffusers", "hook-huggingface_hub", "hook-pyrender", "hook-ai_edge_litert"} <= hooks
    assert "hook-smplx" not in hooks
    # the GL platforms PyOpenGL imports by name
    assert all(p in (INSTALLER / "hooks" / "hook-pyrender.py").read_text() for p in ("egl", "osmesa", "glx"))


def test_resources_bundled_exist_and_are_complete():
    datas = bundle.resource_datas()
    dests = {(Path(d) / Path(s).name).as_posix() for s, d in datas}
    assert all(Path(s).is_file() for s, _ in datas)
    assert all(not Path(d).is_absolute() for _, d in datas)
    for needed in ("resources/models/demo/omfa_config.json", "resources/models/demo/unet/config.json",
                   "resources/body/omfa_mannequin_smplx.npz", "resources/body/omfa_mannequin_parts.npz",
                   "resources/poses/walking.json", "resources/samples/demo_000_person.png",
                   "resources/models/blazepose/pose_detection.tflite",
                   "resources/models/blazepose/pose_landmark_full.tflite", "resources/models/blazepose/LICENSE",
                   "resources/icons/omfa-desktop.png", "resources/icons/omfa-desktop.ico",
                   "engine/body/hmr2_child.py"):
        assert needed in dests, needed
    manifest = ROOT / "resources/models/demo/manifest.json"
    if manifest.is_file():  # every file the demo model's manifest checks must ship
        for rel in json.loads(manifest.read_text())["files"]:
            assert f"resources/models/demo/{rel}" in dests, rel
    assert not any(Path(d).name.startswith(("SMPLX_", "SMPL_")) for d in dests)


def test_smplx_model_files_are_refused(tmp_path):
    for src, _ in bundle.RESOURCE_DIRS:
        (tmp_path / src).mkdir(parents=True, exist_ok=True)
        (tmp_path / src / "x.json").write_text("{}")
    for rel in bundle.HMR2_CHILD_SOURCES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert len(bundle.resource_datas(tmp_path)) == len(bundle.RESOURCE_DIRS) + len(bundle.HMR2_CHILD_SOURCES)
    (tmp_path / "resources/body/SMPLX_NEUTRAL.npz").write_bytes(b"x")
    with pytest.raises(ValueError, match="never be bundled"):
        bundle.resource_datas(tmp_path)
    assert [f.name for f in bundle.smpl_files(tmp_path)] == ["SMPLX_NEUTRAL.npz"]
    (tmp_path / "resources/body/SMPLX_NEUTRAL.npz").unlink()
    shutil.rmtree(tmp_path / "resources/poses")
    with pytest.raises(FileNotFoundError):
        bundle.resource_datas(tmp_path)


def test_trimming_keeps_what_the_app_uses():
    drop = ["PySide6/Qt/translations/qtbase_de.qm", "PySide6/Qt/qml/QtQuick/qmldir", "PySide6/Qt/lib/libQt6Quick.so.6",
            "PySide6/Qt/plugins/platformthemes/libqgtk3.so", "libgtk-3.so.0", "torch/bin/test_api", "torch/bin/protoc",
            "torch/bin/TCPStoreTest",
            "torch/test/test_jit", "libLLVM-15.so.1", "libOSMesa.so.8", "libglapi.so.0"]
    keep = ["PySide6/Qt/plugins/platforms/libqxcb.so",
            "PySide6/Qt/plugins/xcbglintegrations/libqxcb-egl-integration.so",
            "PySide6/Qt/plugins/imageformats/libqjpeg.so", "PySide6/Qt/lib/libQt6Widgets.so.6",
            "PySide6/Qt/lib/libQt6OpenGLWidgets.so.6", "PySide6/Qt/lib/libicudata.so.73", "torch/lib/libtorch_cpu.so",
            "torch/bin/torch_shm_manager",
            "resources/models/demo/omfa_config.json", "ai_edge_litert/libpywrap_litert_common.so"]
    assert [d for d in drop if bundle.keep_file(d)] == []
    assert [k for k in keep if not bundle.keep_file(k)] == []


def test_no_qt_module_the_app_imports_is_excluded():
    used = set()
    for f in list((ROOT / "omfa_desktop").rglob("*.py")) + list((ROOT / "engine").rglob("*.py")):
        used |= set(re.findall(r"PySide6\.(Qt\w+)", f.read_text(errors="replace")))
    assert {"QtCore", "QtGui", "QtWidgets", "QtOpenGLWidgets"} <= used
    excluded = {m.split(".", 1)[1] for m in bundle.EXCLUDES if m.startswith("PySide6.")}
    assert not used & excluded
    assert "QtMultimedia" not in excluded  # the kiosk's optional camera (PySide6-Addons)
    assert "tkinter" in bundle.EXCLUDES and "smplx" in bundle.EXCLUDES  # its licence forbids redistribution


def test_version_matches_pyproject_and_iss_default():
    v = bundle.version()
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", v)
    iss = (INSTALLER / "windows" / "omfa.iss").read_text()
    assert f'#define AppVersion "{v}"' in iss


# ------------------------------------------------------------------------------------------- scripts
@pytest.mark.parametrize("script", ["build_linux.sh", "linux/install.sh"])
def test_shell_scripts_are_valid(script):
    path = INSTALLER / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    r = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "set -euo pipefail" in path.read_text()


def test_build_script_installs_torch_first_and_never_uses_the_dev_venv():
    text = (INSTALLER / "build_linux.sh").read_text()
    torch_at = text.index('pip install -q "torch==2.13.0"')
    assert torch_at < text.index('-c constraints.txt "$ROOT[build]"')  # torch first, then the project
    assert "-e " not in text.split("pip install", 2)[2].split("\n")[0]  # non-editable
    assert "OMFA_ALLOW_CUDA_TORCH" in text and "installer/omfa.spec" in text
    venv_lines = [ln for ln in text.splitlines() if ".venv" in ln and not ln.lstrip().startswith("#")]
    assert all("die" in ln for ln in venv_lines), venv_lines  # only the guard that refuses it
    for needed in ("du -sh", ".tar.gz", ".desktop", "INSTALL.txt", "--self-test", "env -i"):
        assert needed in text, needed
    assert (INSTALLER / "linux" / "INSTALL.txt").is_file()


def test_iss_disk_spanning_and_layout():
    iss = (INSTALLER / "windows" / "omfa.iss").read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", iss, re.M))
    assert settings["DiskSpanning"] == "yes" and settings["SlicesPerDisk"] == "1"
    assert settings["DiskSliceSize"] == "max" or int(settings["DiskSliceSize"]) <= 2_100_000_000
    assert settings["PrivilegesRequired"] == "lowest" and "dialog" in settings["PrivilegesRequiredOverridesAllowed"]
    assert "{autodesktop}" in iss and "{autoprograms}" in iss and "{uninstallexe}" in iss
    defines = dict(re.findall(r'#define (\w+) "([^"]*)"', iss))
    assert defines["GuiExe"] == bundle.NAME + ".exe" and defines["CliExe"] == bundle.CLI_NAME + ".exe"
    assert defines["BundleDir"].replace("\\", "/") == "../../dist/" + bundle.NAME  # the spec's COLLECT output
    # every file it takes from the bundle is in the layout the spec writes (executables, LICENSES, _internal)
    layout = {bundle.NAME + ".exe", bundle.CLI_NAME + ".exe", "LICENSES", bundle.CONTENTS}
    for src in re.findall(r'^Source: "\{#BundleDir\}\\([^"]+)"', iss, re.M):
        first = src.split("\\")[0].replace("{#GuiExe}", defines["GuiExe"]).replace("{#CliExe}", defines["CliExe"])
        assert first in layout, src
    here = INSTALLER / "windows"
    assert (here / settings["SetupIconFile"].replace("\\", "/")).resolve().is_file()
    assert settings["LicenseFile"].endswith(r"LICENSES\README.txt")
    assert "BUILD.md" in iss and (here / "BUILD.md").is_file()
    recipe = (here / "BUILD.md").read_text()
    assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" in recipe and "iscc" in recipe.lower()


def test_write_licenses(tmp_path):
    files = {p.name for p in bundle.write_licenses(tmp_path / "LICENSES", {"numpy", "torch", "smplx"})}
    assert {"README.txt", "SMPL-X-NOT-INCLUDED.txt", "BlazePose-LICENSE.txt", "Apache-2.0.txt",
            "THIRD_PARTY.txt"} <= files and "smplx-package-LICENSE.txt" not in files
    note = (tmp_path / "LICENSES" / "SMPL-X-NOT-INCLUDED.txt").read_text()
    assert "NOT included" in note and "https://smpl-x.is.tue.mpg.de" in note and "skinning.py" in note
    third = (tmp_path / "LICENSES" / "THIRD_PARTY.txt").read_text()
    assert "numpy " in third and "torch " in third and "omfa-desktop" not in third.split("\n\n")[1]


# ------------------------------------------------------------------------------------- frozen lookup
def test_resource_dir_frozen(monkeypatch, tmp_path):
    from engine import paths

    monkeypatch.delenv("OMFA_RESOURCES", raising=False)
    assert paths.bundle_dir() is None and paths.resource_dir() == paths.ROOT / "resources"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.bundle_dir() == tmp_path
    assert paths.resource_dir() == tmp_path / "resources"
    monkeypatch.setenv("OMFA_RESOURCES", str(tmp_path / "elsewhere"))
    assert paths.resource_dir() == tmp_path / "elsewhere"
    monkeypatch.delattr(sys, "frozen")
    monkeypatch.delenv("OMFA_RESOURCES")
    assert paths.bundle_dir() is None  # _MEIPASS alone (not frozen) is not a bundle


def test_module_constants_follow_the_bundle(tmp_path):
    """What PyInstaller's bootstrap sets before any app module is imported: sys.frozen and sys._MEIPASS."""
    code = ("import sys; sys.frozen = True; sys._MEIPASS = sys.argv[1]\n"
            "import engine.paths as p, engine.body.blazepose as b\n"
            "print(p.RESOURCES); print(p.DEMO_MODEL); print(p.SAMPLES); print(b.MODELS)")
    env = {k: v for k, v in os.environ.items() if k != "OMFA_RESOURCES"}
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(tmp_path / "resources"), str(tmp_path / "resources/models/demo"),
                                str(tmp_path / "resources/samples"), str(tmp_path / "resources/models/blazepose")]


# ------------------------------------------------------------------------------------------- entries
@pytest.mark.parametrize("entry", ["main.py", "installer/omfa_cli.py"])
def test_self_test_flag_runs_before_any_qt_import(entry):
    code = ("import sys, runpy\nimport engine.selftest as s\n"
            "s.main = lambda argv: print('qt' if any(m.startswith('PySide6') for m in sys.modules) else 'no qt', argv)"
            " or 7\nsys.argv = [sys.argv[1], '--self-test', '--steps', '2']\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code, str(ROOT / entry)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 7, r.stderr
    assert r.stdout.strip() == "no qt ['--self-test', '--steps', '2']"


def test_cli_entry_runs_the_engine_cli():
    r = subprocess.run([sys.executable, str(INSTALLER / "omfa_cli.py"), "--help"], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0 and "try-off" in r.stdout


# ------------------------------------------------------------------------------------------- self-test
@pytest.mark.gl
def test_self_test_in_process():
    from engine.selftest import run_self_test

    out = io.StringIO()
    code = run_self_test(steps=2, device="cpu", verbose=True, out=out)
    lines = out.getvalue().strip().splitlines()
    assert code == 0, lines[-1]
    assert re.fullmatch(r"OMFA self-test OK: demo model \(\d+\.\d M params, cpu fp32, loaded in [\d.]+ s\), "
                        r"try-off 2 steps [\d.]+ s, guide render \w+ [\d.]+ s, .*total [\d.]+ s", lines[-1]), lines[-1]
    assert any(ln.startswith("module   torch") for ln in lines)
    assert any(ln.startswith("resource demo model") for ln in lines)
    assert any(ln.startswith("libs ") and "n/a (not frozen)" in ln for ln in lines)


def test_self_test_fails_with_the_reason(monkeypatch, tmp_path):
    from engine import paths
    from engine.selftest import run_self_test

    monkeypatch.setattr(paths, "DEMO_MODEL", tmp_path / "no_model")
    out = io.StringIO()
    assert run_self_test(steps=1, out=out) == 1
    line = out.getvalue().strip()
    assert line.startswith("OMFA self-test FAILED: resources: missing: demo model") and "no_model" in line
    assert "\n" not in line


def test_self_test_frozen_check_flags_modules_outside_the_bundle(monkeypatch, tmp_path):
    """In a frozen app --verbose fails when anything came from outside the bundle (here: everything does)."""
    import engine.selftest as st

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    out = io.StringIO()
    with pytest.raises(st.SelfTestError, match="outside the bundle"):
        st._where({"numpy": __import__("numpy")}, {"resources": tmp_path / "resources"}, out)
    assert st._inside(tmp_path / "a" / "b.so", tmp_path) and not st._inside(Path("/usr/lib/x.so"), tmp_path)
    if sys.platform.startswith("linux"):
        assert any("libc" in p for p in st.loaded_libraries())


def test_self_test_rejects_bad_steps(capsys):
    from engine.selftest import main

    assert main(["--self-test", "--steps", "0"]) == 2
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.skipif(not os.environ.get("OMFA_TEST_BUNDLE"), reason="set OMFA_TEST_BUNDLE=dist/omfa-desktop to test a "
                    "built bundle (installer/build_linux.sh builds one)")
def test_built_bundle_self_test(tmp_path):
    exe = Path(os.environ["OMFA_TEST_BUNDLE"]).resolve() / bundle.CLI_NAME
    r = subprocess.run(["env", "-i", "PATH=/usr/bin:/bin", f"HOME={tmp_path}", str(exe), "--self-test", "--verbose"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1].startswith("OMFA self-test OK")
    assert "frozen: True" in r.stdout
