"""The hmr2 (4D-Humans) adapter: SMPL-X pose and camera from a photo, with hmr2 kept in a child process.

hmr2 changes its process (it sets PYOPENGL_PLATFORM, needs HOME, pins PyOpenGL 3.1.0 through pyrender 0.1.45,
its detector calls ``.cuda()``), so it never runs in the app's process: :class:`Hmr2Adapter` starts
``python -m engine.body.hmr2_child`` — with the user's hmr2 Python, typically 4D-Humans' own environment —
writes one JSON request (image path, person box, checkpoint) on its stdin and reads one JSON answer
(SMPL rotation matrices, betas, the crop camera, the posed pelvis) from its stdout. The parent then:

- converts SMPL to SMPL-X (:func:`smpl_to_smplx`): the global orient and the 21 body joints SMPL-X shares with
  SMPL (SMPL's two hand joints are dropped), rotation matrices → axis-angle; betas neutral (SMPL's betas
  do not mean the same thing in SMPL-X) unless a fit is asked for;
- re-solves the translation so the SMPL-X pelvis lands where hmr2 put SMPL's;
- turns the crop camera into the full-image camera (:func:`engine.body.camera.camera_from_hmr2`) and moves
  body and camera into the y-up world the app uses (:func:`engine.body.camera.hmr2_to_y_up`).

Nothing is ever downloaded: when the hmr2 Python, the package, its checkpoint or its SMPL file is missing,
:meth:`Hmr2Adapter.missing` lists exactly what and where it was looked for.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from engine.body.camera import camera_from_hmr2, hmr2_to_y_up
from engine.body.estimate import PoseEstimate
from engine.body.state import BodyState
from engine.errors import OmfaError

PROTOCOL = 1
CHECKPOINT_NAMES = ("epoch=35-step=1000000.ckpt", "*.ckpt")  # 4D-Humans' released checkpoint, then any
SMPL_FILE = "SMPL_NEUTRAL.pkl"


class Hmr2Error(OmfaError, RuntimeError):
    """hmr2 cannot run here, or its answer is unusable. The message says what is missing and where."""


# ============================================================================================ conversions
def rotmats_to_axis_angle(rotmats: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices → (..., 3) axis-angle (radians)."""
    from scipy.spatial.transform import Rotation

    r = np.asarray(rotmats, np.float64)
    # scipy projects a not-quite-orthonormal matrix (hmr2's come from a 6D representation) to the nearest
    # rotation, so float error in the child's answer does not become a reflection or a shear
    return Rotation.from_matrix(r.reshape(-1, 3, 3)).as_rotvec().reshape(r.shape[:-2] + (3,))


def smpl_to_smplx(global_orient: np.ndarray, body_pose: np.ndarray, betas: Optional[np.ndarray] = None,
                  keep_betas: bool = False) -> tuple[BodyState, list[str]]:
    """SMPL parameters (rotation matrices, as hmr2 predicts them) → an SMPL-X BodyState (no translation).

    Parameters
    ----------
    global_orient : (3, 3) or (1, 3, 3)
    body_pose : (23, 3, 3)   SMPL joints 1..23; joints 1..21 are SMPL-X's body joints, 22-23 (hands) dropped
    betas : (10,), optional  SMPL shape; used only with ``keep_betas`` (SMPL betas are not SMPL-X betas)
    """
    go = np.asarray(global_orient, np.float64).reshape(3, 3)
    bp = np.asarray(body_pose, np.float64)
    if bp.shape != (23, 3, 3):
        raise Hmr2Error(f"hmr2 body_pose must be 23 rotation matrices (23, 3, 3), got {bp.shape}")
    notes = []
    state = BodyState(global_orient=rotmats_to_axis_angle(go).astype(np.float32),
                      body_pose=rotmats_to_axis_angle(bp[:21]).astype(np.float32))
    if keep_betas and betas is not None:
        state.betas = np.asarray(betas, np.float32).reshape(10)
        notes.append("SMPL betas copied to SMPL-X as they are (approximate body shape)")
    else:
        notes.append("body shape neutral (SMPL betas are not SMPL-X betas)")
    return state, notes


def place_pelvis(state: BodyState, pelvis: np.ndarray, rest_pelvis: np.ndarray) -> BodyState:
    """Set ``state.transl`` so the posed SMPL-X pelvis is at ``pelvis``.

    smplx rotates the body about its rest pelvis ``J0`` and then translates, so the posed pelvis is
    ``J0 + transl`` whatever the pose: ``transl = pelvis - J0``.
    """
    state.transl = (np.asarray(pelvis, np.float64).reshape(3) - np.asarray(rest_pelvis, np.float64).reshape(3)
                    ).astype(np.float32)
    return state


def estimate_from_answer(answer: dict, image_size: tuple[int, int], rest_pelvis: np.ndarray,
                         box: Sequence[float], keep_betas: bool = False) -> PoseEstimate:
    """The parent's half: an hmr2 child answer → a PoseEstimate in the app's y-up world.

    ``answer``: {"global_orient": (3,3), "body_pose": (23,3,3), "betas": (10,), "pred_cam": (s,tx,ty),
    "pelvis": (3,) posed SMPL pelvis in hmr2's camera frame (before the camera translation),
    "box_center": (2,), "box_size": float, "focal": float, "crop": int}
    """
    try:
        state, notes = smpl_to_smplx(answer["global_orient"], answer["body_pose"], answer.get("betas"), keep_betas)
        cam = camera_from_hmr2(answer["pred_cam"], answer["box_center"], float(answer["box_size"]), image_size,
                               float(answer.get("focal", 5000.0)), int(answer.get("crop", 256)))
        pelvis = np.asarray(answer["pelvis"], np.float64).reshape(3)
    except (KeyError, TypeError, ValueError) as e:
        raise Hmr2Error(f"the hmr2 child's answer is incomplete or malformed ({e.__class__.__name__}: {e})") from None
    rest = np.asarray(rest_pelvis, np.float64).reshape(3)
    place_pelvis(state, pelvis, rest)
    # y-down camera frame -> y-up world, turning about the posed pelvis (J0 + transl) so the image is unchanged
    cam, state.global_orient = hmr2_to_y_up(cam, state.global_orient, rest + state.transl)
    return PoseEstimate(state, cam, tuple(float(v) for v in box), "hmr2", notes)


# ============================================================================================ the adapter
@dataclass
class Hmr2Adapter:
    """Runs hmr2 in a child process.

    folder : the hmr2 model folder (model_config.yaml + a checkpoint, here or in checkpoints/)
    python : the Python that has the ``hmr2`` package (4D-Humans' environment); default $OMFA_HMR2_PYTHON,
        else this one
    smpl_dir : where SMPL_NEUTRAL.pkl is (default: hmr2's own places, see :meth:`smpl_candidates`)
    child : the child command (tests use a stand-in that speaks the same JSON)
    scratch : folder for the temporary copy of the photo the child reads (default: the system's temp
        folder); the kiosk passes the customer's session folder so the copy is purged with it, even after
        a crash
    """

    folder: str | Path
    python: str = ""
    smpl_dir: str = ""
    child: Sequence[str] = ()
    timeout: float = 600.0
    scratch: str | Path = ""

    def checkpoint(self) -> Optional[Path]:
        folder = Path(self.folder).expanduser()
        for d in (folder, folder / "checkpoints"):
            for pattern in CHECKPOINT_NAMES:
                hits = sorted(d.glob(pattern)) if d.is_dir() else []
                if hits:
                    return hits[0]
        return None

    def smpl_candidates(self) -> list[Path]:
        """Where hmr2 looks for SMPL_NEUTRAL.pkl: our setting, then 4D-Humans' cache and data folders."""
        home = Path(os.environ.get("HOME", "~")).expanduser()
        out = [Path(self.smpl_dir).expanduser() / SMPL_FILE] if self.smpl_dir else []
        out += [Path(self.folder).expanduser().parent.parent.parent / "data" / "smpl" / SMPL_FILE,
                home / ".cache" / "4DHumans" / "data" / "smpl" / SMPL_FILE]
        return out

    def _python(self) -> str:
        """The hmr2 environment's Python: ``python``, else $OMFA_HMR2_PYTHON, else this one."""
        return self.python or os.environ.get("OMFA_HMR2_PYTHON", "") or sys.executable

    def missing(self, check_package: bool = True) -> list[str]:
        """Everything hmr2 needs that is not there, each with where it was looked for ([] = ready)."""
        folder = Path(self.folder).expanduser()
        out = []
        if not folder.is_dir():
            return [f"the hmr2 folder {folder} does not exist (Settings → hmr2 folder: 4D-Humans' "
                    "logs/train/multiple_datasets)"]
        if not (folder / "model_config.yaml").is_file():
            out.append(f"model_config.yaml is not in {folder}")
        if self.checkpoint() is None:
            out.append(f"no checkpoint (*.ckpt) in {folder} or {folder / 'checkpoints'}")
        if not any(p.is_file() for p in self.smpl_candidates()):
            out.append(f"{SMPL_FILE} (SMPL body model, licence at https://smpl.is.tue.mpg.de) is not in any of: "
                       + ", ".join(str(p.parent) for p in self.smpl_candidates()))
        if check_package and not self.child:
            py = self._python()
            try:
                r = subprocess.run([py, "-c", "import hmr2"], capture_output=True, text=True, timeout=120,
                                   env=self._child_env())
                if r.returncode != 0:
                    out.append(f"the hmr2 package is not importable by {py} "
                               f"({(r.stderr.strip().splitlines() or ['?'])[-1]}); install 4D-Humans there "
                               "(pip install -e . in its clone) or point OMFA_HMR2_PYTHON at that environment's python")
            except (OSError, subprocess.SubprocessError) as e:
                out.append(f"the hmr2 Python {py} cannot be run ({e})")
        return out

    def _child_env(self) -> dict:
        env = dict(os.environ)
        env.setdefault("HOME", tempfile.gettempdir())  # hmr2 needs HOME for its cache
        env["PYOPENGL_PLATFORM"] = "egl"               # its renderer import wants one; the app's is untouched
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def estimate(self, image: np.ndarray, box: Optional[Sequence[float]], rest_pelvis: np.ndarray,
                 keep_betas: bool = False) -> PoseEstimate:
        """Pose and camera of the person in ``image`` (H, W, 3) uint8 inside ``box`` (x0, y0, x1, y1;
        None = the whole image)."""
        from PIL import Image

        if not self.child:
            missing = self.missing()
            if missing:
                raise Hmr2Error("hmr2 cannot run: " + "; ".join(missing))
        h, w = image.shape[:2]
        box = tuple(float(v) for v in (box if box is not None else (0, 0, w, h)))
        with tempfile.TemporaryDirectory(prefix="omfa_hmr2_", dir=self.scratch or None) as tmp:
            path = Path(tmp) / "photo.png"
            Image.fromarray(np.asarray(image, np.uint8)).save(path)
            request = {"protocol": PROTOCOL, "image": str(path), "box": list(box),
                       "checkpoint": str(self.checkpoint() or ""), "smpl": [str(p) for p in self.smpl_candidates()]}
            cmd = list(self.child) or [self._python(), "-m", "engine.body.hmr2_child"]
            try:
                r = subprocess.run(cmd, input=json.dumps(request), capture_output=True, text=True,
                                   timeout=self.timeout, env=self._child_env())
            except subprocess.TimeoutExpired:
                raise Hmr2Error(f"hmr2 took more than {self.timeout:.0f} s and was stopped") from None
            except OSError as e:
                raise Hmr2Error(f"could not start hmr2 ({cmd[0]}): {e}") from None
        answer = _last_json(r.stdout)
        if r.returncode != 0 or answer is None or "error" in (answer or {}):
            why = (answer or {}).get("error") or (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise Hmr2Error(f"hmr2 failed: {why}")
        if answer.get("protocol") != PROTOCOL:
            raise Hmr2Error(f"the hmr2 child speaks protocol {answer.get('protocol')!r}, this app {PROTOCOL}")
        return estimate_from_answer(answer, (w, h), rest_pelvis, box, keep_betas)


def _last_json(text: str) -> Optional[dict]:
    """The answer is the last line that parses as a JSON object (hmr2 and its libraries print to stdout)."""
    for line in reversed(text.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None
