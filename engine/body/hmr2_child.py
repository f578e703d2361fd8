"""The hmr2 child process: ``python -m engine.body.hmr2_child`` inside 4D-Humans' environment.

Reads one JSON request on stdin, writes one JSON answer as the last line of stdout (see engine/body/hmr2.py)::

    request  {"protocol": 1, "image": path, "box": [x0, y0, x1, y1], "checkpoint": path, "smpl": [paths]}
    answer   {"protocol": 1, "global_orient": 3x3, "body_pose": 23x3x3, "betas": 10, "pred_cam": [s, tx, ty],
              "pelvis": [x, y, z], "box_center": [x, y], "box_size": b, "focal": f, "crop": n}
    or       {"protocol": 1, "error": "one line"}

Only this file imports hmr2; it imports nothing else from the app, so the app's packages and hmr2's pins
never meet. The checkpoint is hmr2's own Lightning file (a pickle): it is loaded here, by hmr2, in this
separate process — use the official 4D-Humans checkpoint only.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

PROTOCOL = 1


def _answer(data: dict) -> None:
    sys.stdout.write("\n" + json.dumps({"protocol": PROTOCOL, **data}) + "\n")
    sys.stdout.flush()


def run(request: dict) -> dict:
    import numpy as np
    import torch
    from hmr2.configs import get_config
    from hmr2.datasets.vitdet_dataset import ViTDetDataset
    from hmr2.models import HMR2

    ckpt = Path(request["checkpoint"])
    cfg_path = ckpt.parent.parent / "model_config.yaml"
    if not cfg_path.is_file():
        cfg_path = ckpt.parent / "model_config.yaml"
    cfg = get_config(str(cfg_path), update_cachedir=True)
    smpl = next((Path(p) for p in request.get("smpl", []) if Path(p).is_file()), None)
    cfg.defrost()
    if smpl is not None:
        cfg.SMPL.MODEL_PATH = str(smpl.parent)
    if cfg.MODEL.BACKBONE.TYPE == "vit" and "BBOX_SHAPE" not in cfg.MODEL:
        cfg.MODEL.BBOX_SHAPE = [192, 256]  # as 4D-Humans' load_hmr2 does for its ViT checkpoints
    cfg.freeze()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = HMR2.load_from_checkpoint(str(ckpt), strict=False, cfg=cfg, map_location=device).to(device).eval()

    from PIL import Image

    rgb = np.asarray(Image.open(request["image"]).convert("RGB"))
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # ViTDetDataset expects OpenCV's BGR
    dataset = ViTDetDataset(cfg, bgr, np.asarray([request["box"]], np.float32))
    item = dataset[0]
    batch = {k: (torch.as_tensor(v)[None].to(device) if isinstance(v, np.ndarray) or torch.is_tensor(v)
                 else v) for k, v in item.items()}
    with torch.no_grad():
        out = model(batch)
    p = out["pred_smpl_params"]
    verts = out["pred_vertices"][0].float()                                  # (6890, 3), camera frame
    pelvis = (model.smpl.J_regressor.float().to(verts.device)[0] @ verts)    # SMPL joint 0, posed
    return {"global_orient": p["global_orient"][0].reshape(3, 3).tolist(),
            "body_pose": p["body_pose"][0].reshape(23, 3, 3).tolist(),
            "betas": p["betas"][0].reshape(-1)[:10].tolist(),
            "pred_cam": out["pred_cam"][0].reshape(3).tolist(), "pelvis": pelvis.tolist(),
            "box_center": np.asarray(item["box_center"], float).reshape(2).tolist(),
            "box_size": float(np.asarray(item["box_size"]).reshape(-1)[0]),
            "focal": float(cfg.EXTRA.FOCAL_LENGTH), "crop": int(cfg.MODEL.IMAGE_SIZE)}


def main() -> int:
    try:
        request = json.loads(sys.stdin.read())
        if request.get("protocol") != PROTOCOL:
            _answer({"error": f"protocol {request.get('protocol')!r} is not {PROTOCOL}"})
            return 2
        _answer(run(request))
        return 0
    except ImportError as e:
        _answer({"error": f"hmr2 is not installed in {sys.executable} ({e})"})
    except Exception as e:  # noqa: BLE001 - everything becomes one line for the parent
        _answer({"error": f"{e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}"})
    return 1


if __name__ == "__main__":
    sys.exit(main())
