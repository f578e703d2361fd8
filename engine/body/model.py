"""BodyModel: an SMPL-X-format body (the mannequin or a user's real SMPL-X) posed from a :class:`BodyState`.

Posed by engine.body.skinning (our implementation of the SMPL-X equations, identical output to
``smplx.SMPLX`` for the 55 joints and the vertices) so the app and its installers do not need the ``smplx``
package, whose licence forbids redistribution; only a ``.pkl`` SMPL-X file (loaded on explicit request)
goes through ``smplx``, installed by the user.
"""

from __future__ import annotations

import contextlib
import io
from functools import cached_property
from pathlib import Path

import numpy as np

from engine.body.skeleton import JOINT_NAMES
from engine.body.state import BodyState
from engine.errors import OmfaError

SMPLX_URL = "https://smpl-x.is.tue.mpg.de"
SMPLX_LICENCE_NOTE = (f"SMPL-X model files are not shipped with OMFA Desktop. Register at {SMPLX_URL}, accept "
                      "its non-commercial licence, download SMPL-X and point OMFA at the folder holding "
                      "SMPLX_NEUTRAL.npz (or .pkl), SMPLX_MALE and SMPLX_FEMALE.")
GENDERS = ("neutral", "male", "female")


class BodyModelError(OmfaError, RuntimeError):
    """A body model could not be found or loaded; the message says which file and what to do."""


class BodyModel:
    """A posable SMPL-X body on the CPU.

    Built with ``use_pca=False, flat_hand_mean=True, num_betas=10`` so hand poses are full axis-angle and
    a zero pose is the flat T-pose. Use :meth:`load_mannequin` or :meth:`load_smplx`.

    Attributes
    ----------
    faces : np.ndarray, shape (F, 3) int64
    joint_names : tuple of str (55,)
    name : str   ``"mannequin"`` or ``"smplx-<gender>"``
    """

    def __init__(self, smplx_model, name: str) -> None:
        import torch

        self._model = smplx_model.eval()
        self.name = name
        self.faces = np.asarray(smplx_model.faces, dtype=np.int64)
        self.joint_names = JOINT_NAMES
        self._torch = torch

    # ----------------------------------------------------------------- construction
    @classmethod
    def load_mannequin(cls, path: str | Path | None = None) -> "BodyModel":
        """The procedural OMFA mannequin (``resources/body/omfa_mannequin_smplx.npz``)."""
        from engine.body.mannequin import MANNEQUIN_PATH

        path = Path(path) if path is not None else MANNEQUIN_PATH
        if not path.exists():
            raise BodyModelError(f"mannequin file missing: {path}. Regenerate it with "
                                 "`python -m engine.body.mannequin`.", path=path)
        return cls(_make_smplx(path), "mannequin")

    @classmethod
    def load_smplx(cls, folder: str | Path, gender: str = "neutral", allow_pickle: bool = False) -> "BodyModel":
        """A real SMPL-X model from the user's folder.

        Parameters
        ----------
        folder : path
            Folder holding ``SMPLX_NEUTRAL.npz`` / ``SMPLX_MALE.npz`` / ``SMPLX_FEMALE.npz`` (``.pkl`` also
            accepted), or their parent holding a ``smplx/`` folder, as SMPL-X's download unpacks.
        gender : {"neutral", "male", "female"}
        allow_pickle : bool
            The ``.npz`` files are preferred. A ``.pkl`` is only loaded when this is True, because
            unpickling runs code from the file (house rule: a pickle is never unpickled by default).

        Raises
        ------
        BodyModelError
            Naming the exact file missing or invalid, and where to get SMPL-X.
        """
        if gender not in GENDERS:
            raise BodyModelError(f"gender must be one of {GENDERS}, got {gender!r}")
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise BodyModelError(f"SMPL-X folder not found: {folder}. {SMPLX_LICENCE_NOTE}", path=folder)
        stem = f"SMPLX_{gender.upper()}"
        candidates = [folder / f"{stem}{ext}" for ext in (".npz", ".pkl")]
        candidates += [folder / "smplx" / f"{stem}{ext}" for ext in (".npz", ".pkl")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise BodyModelError(f"missing SMPL-X file {folder / (stem + '.npz')} (or {stem}.pkl). "
                                 f"{SMPLX_LICENCE_NOTE}", path=folder)
        if found.suffix == ".pkl" and not allow_pickle:
            raise BodyModelError(f"only {found} was found; OMFA loads SMPL-X from .npz files "
                                 f"({stem}.npz, in the same SMPL-X download) and unpickles a .pkl only when "
                                 "explicitly allowed (allow_pickle=True).", path=found)
        try:
            model = _make_smplx(found)
        except BodyModelError:
            raise
        except Exception as e:  # SkinningError / smplx's KeyError, ValueError, UnpicklingError on bad files
            raise BodyModelError(f"invalid SMPL-X file {found}: {type(e).__name__}: {e}. Re-download it from "
                                 f"{SMPLX_URL}.", path=found) from e
        return cls(model, f"smplx-{gender}")

    # ----------------------------------------------------------------- queries
    def labels(self):
        """Per-vertex part labels for guide renders (:class:`engine.body.render.VertexLabels`).

        The mannequin ships hand-made labels; for real SMPL-X the part is the dominant skinning joint's
        and front/back comes from the rest-pose normals.
        """
        from engine.body.render import VertexLabels, mannequin_labels

        if self.name == "mannequin":
            return mannequin_labels()
        if getattr(self, "_labels", None) is not None:  # computed once per model (about a second)
            return self._labels
        from engine.body.mannequin import PART_NAMES, parts_from_weights
        import trimesh

        v, _ = self.forward(BodyState())
        pid = parts_from_weights(self._model.lbs_weights.numpy(), v, self.rest_joints)
        normals = trimesh.Trimesh(v, self.faces, process=False).vertex_normals
        self._labels = VertexLabels(pid, PART_NAMES, normals[:, 2].astype(np.float32))
        return self._labels

    @property
    def num_vertices(self) -> int:
        return int(self._model.v_template.shape[0])

    @cached_property
    def rest_joints(self) -> np.ndarray:
        """Rest joints for zero betas, np.ndarray, shape (55, 3)."""
        return self.forward(BodyState())[1][:55]

    def shape_rest(self, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unposed (T-pose) vertices (V,3) and joints (55,3) for the given betas (10,)."""
        return self.forward(BodyState(betas=np.asarray(betas, np.float32)))

    def forward(self, state: BodyState) -> tuple[np.ndarray, np.ndarray]:
        """Pose the body (SMPL-X blend shapes and linear blend skinning).

        Parameters
        ----------
        state : BodyState

        Returns
        -------
        vertices : np.ndarray, shape (V, 3) float32
        joints : np.ndarray, shape (J, 3) float32
            The 55 skeleton joints (``joint_names`` order); smplx's extra keypoints too for a ``.pkl`` model.
        """
        return self.forward_batch([state])

    def forward_batch(self, states: list[BodyState]) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`forward` for B states; returns (B, V, 3) and (B, J, 3) (squeezed when B == 1)."""
        torch = self._torch

        def stack(name: str, shape: tuple[int, ...]):
            return torch.from_numpy(np.stack([getattr(s, name).reshape(shape) for s in states]))

        with torch.no_grad():
            out = self._model(
                betas=stack("betas", (10,)), global_orient=stack("global_orient", (3,)),
                body_pose=stack("body_pose", (63,)), left_hand_pose=stack("left_hand_pose", (45,)),
                right_hand_pose=stack("right_hand_pose", (45,)), jaw_pose=stack("jaw_pose", (3,)),
                transl=stack("transl", (3,)),
                leye_pose=torch.zeros(len(states), 3), reye_pose=torch.zeros(len(states), 3),
                expression=torch.zeros(len(states), self._model.num_expression_coeffs),
            )
        v = out.vertices.numpy().astype(np.float32)
        j = out.joints.numpy().astype(np.float32)
        if len(states) == 1:
            return v[0], j[0]
        return v, j


def _make_smplx(path: Path):
    """The posable body of an SMPL-X-format file: engine.body.skinning for ``.npz`` (the mannequin, a user's
    SMPL-X); ``smplx.SMPLX`` for a ``.pkl``, which only smplx can read."""
    if path.suffix.lower() != ".pkl":
        from engine.body.skinning import SmplxSkinning

        return SmplxSkinning(path, num_betas=10, num_expression_coeffs=10)
    try:
        import smplx
    except ImportError:
        raise BodyModelError(f"{path} is a .pkl SMPL-X file, which needs the smplx package (pip install "
                             "smplx; non-commercial licence); use the .npz files of the same SMPL-X download "
                             "instead", path=path) from None
    # smplx prints a warning to stdout for models with only 10+10 shape columns; keep our output clean.
    with contextlib.redirect_stdout(io.StringIO()):
        return smplx.SMPLX(str(path), ext="pkl", use_pca=False, flat_hand_mean=True, num_betas=10,
                           num_expression_coeffs=10, batch_size=1)
