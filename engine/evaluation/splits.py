"""Which samples an evaluation sees: the splits of the synthetic world and pre-rendered shards of them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import OmfaError

if TYPE_CHECKING:  # pragma: no cover
    from engine.data.synthetic import SyntheticSample


class EvalError(OmfaError, ValueError):
    """Evaluation cannot run as asked (bad data folder, sizes, settings); the message says why."""



def load_samples(n: int, split: str = "test", data: str | Path | None = None,
                 panel_size: tuple[int, int] = (96, 128), head_width: int = 64, seed: int = 0,
                 ) -> list["SyntheticSample"]:
    """The first ``n`` samples of a split: from pre-rendered shards, else rendered by the synthetic world.

    Parameters
    ----------
    n : int
    split : "train" | "val" | "test"
    data : folder of ``{split}_*.npz`` shards (``omfa data render``), optional
    panel_size : (width, height) of the person/garment panels (used when rendering; checked for shards)
    head_width : int
    seed : int
        World seed when rendering (0 is the benchmark test set).

    Returns
    -------
    list of SyntheticSample
        Images (H, W, 3) uint8, masks (H, W) bool, ``meta`` with the garment spec and pose-B camera/state.
    """
    from engine.data.synthetic import SPLITS, SyntheticSample, SyntheticWorld

    if split not in SPLITS:
        raise EvalError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
    if n < 1:
        raise EvalError(f"need at least 1 sample, not {n}")
    if data is None:
        world = SyntheticWorld(panel_size, head_width, seed)
        try:
            return [world.sample(i, split) for i in range(n)]
        finally:
            world.close()

    # engine.train.load_shards concatenates whole splits and skips the per-sample metadata (the garment
    # spec and pose-B camera the metrics need); this reads shards in the same order and stops at n.
    folder = Path(data)
    if not folder.is_dir():
        raise EvalError(f"data folder {folder} does not exist")
    paths = [p for p in sorted(folder.glob(f"{split}_*.npz")) if not p.name.endswith(".tmp.npz")]
    if not paths:
        raise EvalError(f"no {split}_*.npz shards in {folder} (make them with 'omfa data render --split {split}')")
    keys = SyntheticSample.IMAGE_FIELDS + SyntheticSample.MASK_FIELDS
    out: list[SyntheticSample] = []
    for p in paths:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in keys + ("meta",) if k not in z.files]
            if missing:
                raise EvalError(f"{p} lacks {', '.join(missing)}: re-render it with 'omfa data render'")
            take = min(n - len(out), len(z["person"]))
            arrays = {k: z[k][:take] for k in keys}
            meta = json.loads(bytes(z["meta"]).decode())
        for i in range(take):
            out.append(SyntheticSample(**{k: arrays[k][i] for k in keys}, meta=meta[i]))
        if len(out) >= n:
            break
    if len(out) < n:
        raise EvalError(f"only {len(out)} {split} samples in {folder}, asked for {n}")
    h, w = out[0].person.shape[:2]
    if (w, h) != tuple(panel_size) or out[0].head.shape[1] != head_width:
        raise EvalError(f"the shards in {folder} are {w}x{h} (head width {out[0].head.shape[1]}) but the model "
                        f"needs {panel_size[0]}x{panel_size[1]} (head width {head_width})")
    return out

