"""``omfa convert | manifest | prior | verify``: make and check model folders."""
from __future__ import annotations

import json
from pathlib import Path

from engine.body.commands import _size
from engine.cli.common import CliError


def cmd_convert(args) -> int:
    from engine.layout import LayoutError, PanelLayout
    from engine.model import ModelError, init_from_diffusers

    w, h = args.size
    panels = [p.strip() for p in args.panels.split(",") if p.strip()]
    try:
        vae_cfg = Path(args.base) / "vae" / "config.json"
        factor = 2 ** (len(json.loads(vae_cfg.read_text())["block_out_channels"]) - 1) if vae_cfg.is_file() else 8
        layout = PanelLayout({p: w for p in panels}, h, factor)
        model = init_from_diffusers(args.base, text=args.text, layout=layout, name=args.name)
        model.save(args.out, fp16=args.fp16)
    except (ModelError, LayoutError, ValueError, KeyError) as e:
        raise CliError(str(e)) from None
    print(f"converted {args.base} -> {args.out} ({model.num_parameters() / 1e6:.0f} M parameters, "
          f"9-channel conv_in, panels {', '.join(layout.panels)} of {w}x{h}). Not fine-tuned yet: "
          "train it with 'omfa train --init' before use.")
    return 0


def cmd_manifest(args) -> int:
    from engine.integrity import write_manifest
    from engine.model import ModelError

    try:
        path = write_manifest(args.folder)
    except (ModelError, OSError) as e:
        raise CliError(str(e)) from None
    n = len(json.loads(path.read_text())["files"])
    print(f"wrote {path}: sha256 of {n} files (load_model now refuses any of them missing, truncated or changed)")
    return 0


def cmd_prior(args) -> int:
    from engine.model import ModelError
    from engine.train import write_latent_prior

    try:
        write_latent_prior(args.model, args.data, args.count, args.seed)
    except (ModelError, OSError) as e:
        raise CliError(str(e)) from None
    return 0


def cmd_verify(args) -> int:
    from engine.integrity import verify_manifest
    from engine.model import ModelError

    try:
        result = verify_manifest(args.folder)
    except (ModelError, OSError) as e:
        print(f"FAILED: {e}")
        return 1
    print(f"OK: {result.summary()}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("convert", help="make an OMFA model folder from a diffusers SD/SDXL(-inpainting) folder")
    p.add_argument("--base", required=True, help="local diffusers folder (unet/, vae/, optional text encoders)")
    p.add_argument("--out", required=True)
    p.add_argument("--text", default="auto", choices=["auto", "zeros"],
                   help="empty-prompt embeddings: encode with the folder's text encoders, or zeros")
    p.add_argument("--size", type=_size, default=(768, 1024), help="panel WIDTHxHEIGHT (default 768x1024)")
    p.add_argument("--panels", default="person,garment,head")
    p.add_argument("--name", help="model name shown in the app")
    p.add_argument("--fp16", action="store_true", help="store weights in fp16 (half the size)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("manifest", help="write FOLDER/manifest.json (sha256 of every file) for a model you trust")
    p.add_argument("folder", metavar="FOLDER")
    p.set_defaults(func=cmd_manifest)

    p = sub.add_parser("prior", help="store a model's latent prior (its training data's mean latent per panel, "
                                      "where sampling starts) in its folder")
    p.add_argument("--model", required=True, help="the model folder")
    p.add_argument("--data", help="training shards (omfa data render); default: render --count samples")
    p.add_argument("--count", type=int, default=256, help="synthetic samples to render without --data (256)")
    p.add_argument("--seed", type=int, default=0, help="world seed without --data (0)")
    p.set_defaults(func=cmd_prior)

    p = sub.add_parser("verify", help="check a model folder against its manifest.json (exit 0 OK, 1 failed)")
    p.add_argument("folder", metavar="FOLDER")
    p.set_defaults(func=cmd_verify)
