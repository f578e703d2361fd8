"""Which samples an evaluation sees: the splits of the synthetic world and pre-rendered shards of them.

The protocol
------------
- **train**: what models learn from (``omfa data render --split train``, or rendered on the fly) and what the
  mean-image baseline averages.
- **val**: where every choice is made — sampler, steps, guidance, latent prior, checkpoint, distillation
  settings. ``omfa eval`` evaluates ``val`` unless told otherwise.
- **test**: only reported, once the choices are fixed on ``val``; never compared between candidates.

How the splits are made (:mod:`engine.data.synthetic`): sample ``i`` of split ``s`` in the world of seed
``w`` is drawn from ``np.random.SeedSequence([w, tag(s), i])``, ``tag`` a fixed SHA-256 hash of the split's
name. The three splits are therefore separate random streams of one world: no sample of one split is a sample
of another (every draw — garment colours and geometry, head, body shape, both poses and views — comes from a
different stream; :func:`split_overlap` checks it and the tests run it), while all three come from the same
distribution (garment families, palettes, pose presets, hair styles are shared: that is what held out means
here). ``--world-seed`` picks another world: its splits are again disjoint from each other and from seed 0's.
The shipped demo model trained on world seed 0 (and seed 1 for one rejected experiment), train split only.
"""
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


#: What each split is for, as the report names it.
SPLIT_ROLES: dict[str, str] = {"train": "training data (diagnostic only)", "val": "validation: choices are made here",
                               "test": "test: reported only, never tuned on"}


def sample_fingerprint(spec) -> str:
    """A digest of everything drawn for one sample (a :class:`engine.data.synthetic.SampleSpec`), without its
    provenance (seed, split, index): two samples with equal fingerprints are the same sample."""
    import hashlib

    meta = spec.to_meta()
    for k in ("seed", "split", "index"):
        meta.pop(k)
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


def split_overlap(n: int, world_seeds: tuple[int, ...] = (0,), splits: tuple[str, ...] = ("train", "val", "test"),
                  ) -> dict[tuple[str, str], int]:
    """How many of the first ``n`` samples of each pair of (world seed, split) are the same sample.

    Cheap: draws the specs, renders nothing. Returns {("0/train", "0/val"): count, ...}; all zero means the
    splits are disjoint on those samples.
    """
    from engine.data.synthetic import SyntheticWorld

    prints: dict[str, set[str]] = {}
    for w in world_seeds:
        world = SyntheticWorld(seed=w)
        for s in splits:
            prints[f"{w}/{s}"] = {sample_fingerprint(world.spec(i, s)) for i in range(n)}
    keys = list(prints)
    return {(a, b): len(prints[a] & prints[b]) for i, a in enumerate(keys) for b in keys[i + 1:]}


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

