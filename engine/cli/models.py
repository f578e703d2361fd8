"""``omfa models list | add | verify | remove | use``: the model manager (engine.model_registry)."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict

from engine.body.commands import _size
from engine.cli.common import CliError


def _registry():
    from engine.model_registry import ModelRegistry

    reg = ModelRegistry()
    if reg.note:
        print(f"note: {reg.note}; starting an empty model list", file=sys.stderr)
    return reg


def _progress(quiet: bool):
    if quiet:
        return None
    state = {"last": ""}

    def show(fraction: float, what: str) -> None:
        bar = "#" * int(fraction * 30)
        line = f"\r  [{bar:<30}] {fraction * 100:5.1f} %  {what[:60]}"
        if line != state["last"]:
            print(line + " " * max(0, len(state["last"]) - len(line)), end="", file=sys.stderr, flush=True)
            state["last"] = line

    return show


def _verified(rec) -> str:
    v = rec.verified
    if not v:
        return "not verified yet" if not rec.builtin else "shipped"
    return f"verified {v.get('when', '')}: {'OK' if v.get('ok') else 'FAILED'}"


def describe_lines(reg, rec, index: int, active: bool) -> list[str]:
    from engine.model_registry import describe, gb

    d = describe(rec.path, builtin=rec.builtin)
    mark = "*" if active else " "
    head = f"{mark} {index}  {rec.name or d.name}" + ("  (read-only)" if rec.builtin else "")
    if d.problem:
        return [head, f"      PROBLEM: {d.problem}", f"      folder: {rec.path}"]
    est = reg.estimate(rec)
    mem = ", ".join(f"{m} {gb(est.get(m))}" for m in ("standard", "low", "offload")) if est else "unknown"
    return [head,
            f"      {d.preset} · panels {', '.join(d.panels)} · {d.resolution} px · {d.parameters / 1e6:,.1f} M "
            f"parameters · {d.precision} on disk · manifest {d.manifest} ({_verified(rec)})",
            f"      tasks: {', '.join(d.tasks) if d.tasks else 'none yet (not fine-tuned: outputs are noise)'}",
            f"      GPU memory at fp16 (counted): {mem}",
            f"      folder: {rec.path}" + (f"  (converted from {rec.source})" if rec.source else "")]


def cmd_list(args) -> int:
    from engine.model_registry import KIND_TEXT, describe

    reg = _registry()
    active = reg.active()
    if args.json:
        out = []
        for rec in reg.all():
            d = describe(rec.path, builtin=rec.builtin)
            out.append({**asdict(rec), "active": rec.key == active.key, "details": asdict(d),
                        "memory_fp16": reg.estimate(rec) if not d.problem else {}})
        print(json.dumps(out, indent=1))
        return 0
    for i, rec in enumerate(reg.all(), 1):
        for line in describe_lines(reg, rec, i, rec.key == active.key):
            print(line)
    print("\n* = the active model (loaded when no --model is given; 'omfa models use N' changes it)")
    print("What each kind of model can do:")
    for text in KIND_TEXT.values():
        print(f"  - {text}")
    return 0


def cmd_add(args) -> int:
    from engine.model_registry import RegistryError

    reg = _registry()
    show = _progress(args.quiet)
    try:
        rec = reg.add(args.folder, out=args.out, name=args.name, text=args.text, progress=show, size=args.size)
        if args.use:
            reg.use(rec.path)
    except RegistryError as e:
        if show:
            print(file=sys.stderr)
        raise CliError(str(e)) from None
    if show:
        print(file=sys.stderr)
    how = f"converted {rec.source} into {rec.path}" if rec.source else f"{rec.path}"
    print(f"added {rec.name!r}: {how}" + (" (now the active model)" if args.use else ""))
    if rec.source:
        print("note: a converted base is not fine-tuned: its outputs are noise until trained "
              f"('omfa train --init {rec.path}')", file=sys.stderr)
    return 0


def cmd_verify(args) -> int:
    from engine.model_registry import RegistryError

    reg = _registry()
    show = _progress(args.quiet)
    try:
        rec = reg.verify(args.model, progress=show)
    except RegistryError as e:
        raise CliError(str(e)) from None
    if show:
        print(file=sys.stderr)
    v = rec.verified
    print(f"{'OK' if v['ok'] else 'FAILED'}: {rec.name}: {v['message']}")
    return 0 if v["ok"] else 1


def _change(args, action: str):
    """Run the registry's ``remove`` or ``use`` on ``args.model``; a name it does not know is one line."""
    from engine.model_registry import RegistryError

    reg = _registry()
    try:
        return reg, getattr(reg, action)(args.model)
    except RegistryError as e:
        raise CliError(str(e)) from None


def cmd_remove(args) -> int:
    reg, rec = _change(args, "remove")
    print(f"removed {rec.name!r} from the list (its folder {rec.path} is left on disk); "
          f"active model: {reg.active().name}")
    return 0


def cmd_use(args) -> int:
    _, rec = _change(args, "use")
    print(f"active model: {rec.name} ({rec.path}); the app and 'omfa' commands without --model load it")
    return 0


def register(sub) -> None:
    p = sub.add_parser("models", help="the model manager: list, add (converts diffusers folders), verify, "
                                      "remove, use")
    msub = p.add_subparsers(dest="models", metavar="ACTION")
    b = msub.add_parser("list", help="every model added, what it is, its GPU memory need; * = active")
    b.add_argument("--json", action="store_true", help="machine-readable")
    b.set_defaults(func=cmd_list)
    b = msub.add_parser("add", help="add an OMFA model folder, or convert a diffusers SD/SDXL(-inpainting) folder "
                                    "into a new one and add that")
    b.add_argument("folder", metavar="FOLDER")
    b.add_argument("--out", help="where the converted OMFA folder goes (default: <user data>/models/NAME-omfa); "
                                 "never inside FOLDER")
    b.add_argument("--name", help="the name shown in the app")
    b.add_argument("--text", default="auto", choices=["auto", "zeros"],
                   help="empty-prompt embeddings of a converted model: its text encoders (auto) or zeros")
    b.add_argument("--size", type=_size, help="panel WIDTHxHEIGHT of a converted model (default: 768x1024 for "
                                              "SDXL, 384x512 for SD 1.5)")
    b.add_argument("--use", action="store_true", help="make it the active model too")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_add)
    b = msub.add_parser("verify", help="re-hash every file of a model against its manifest (exit 1 if it fails)")
    b.add_argument("model", metavar="MODEL", help="number in 'omfa models list', name or folder")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_verify)
    b = msub.add_parser("remove", help="forget a model (its folder stays on disk)")
    b.add_argument("model", metavar="MODEL", help="number in 'omfa models list', name or folder")
    b.set_defaults(func=cmd_remove)
    b = msub.add_parser("use", help="make a model the active one (what the app and the CLI load by default)")
    b.add_argument("model", metavar="MODEL", help="number in 'omfa models list', name or folder")
    b.set_defaults(func=cmd_use)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
