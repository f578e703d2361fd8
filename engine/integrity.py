"""Integrity of weight folders: sha256 manifests, pickle refusal, safetensors headers vs configs.

Model folders come from downloads, USB sticks and other people, so before any weights are used:

- pickle checkpoints (.ckpt .pt .pth .bin .pkl) are refused, never opened: unpickling runs code from the file;
- ``manifest.json`` (written last by every save, or by ``omfa manifest DIR``) lists each file's sha256 and
  size; a missing, truncated or modified file, or weights added after the manifest, are refused by name;
- the tensor shapes in a safetensors header are compared with what the folder's config.json implies, so a
  config that does not match its weights is named instead of surfacing as a long library error (or, for
  missing keys, as silently random weights).

A manifest catches corruption, truncation, interrupted copies and accidental edits. It is not a signature:
whoever can rewrite the weights can rewrite manifest.json, so it says nothing about who made a model.

No torch import at module level: ``omfa verify`` and the checks here run without loading the ML stack.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from engine.errors import ModelError
from engine.persist import JsonError, load_json, parse_json, write_text

log = logging.getLogger("omfa")

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "omfa-manifest/1"
CHUNK = 1 << 20                      # 1 MiB: weights can be many GB, never read a file whole
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")
WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json")  # what a loader could pick up as weights
HASH_CACHE_ENV = "OMFA_HASH_CACHE"   # "0"/"off": no cache; a path: use that file (tests)
_MAX_HEADER = 100 << 20              # a safetensors JSON header larger than this is not a real one
_MAX_CACHE_ENTRIES = 4096
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify_manifest` checked."""

    folder: Path
    files: int
    bytes: int
    hashed: int   # files actually read (the others' hashes came from the verification cache)

    def summary(self) -> str:
        return (f"{self.folder}: {self.files} files ({_size(self.bytes)}) match {MANIFEST}"
                f" ({self.hashed} hashed, {self.files - self.hashed} from the cache)")


# ============================================================================================ hashing
def sha256_file(path: Path, on_bytes: Optional[Callable[[int], None]] = None) -> str:
    """sha256 of a file, read in 1 MiB chunks; ``on_bytes(n)`` after each chunk (progress bars)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return h.hexdigest()


def hash_cache_path() -> Optional[Path]:
    """Where verified hashes are remembered (None: no cache). ``OMFA_HASH_CACHE`` overrides."""
    env = os.environ.get(HASH_CACHE_ENV, "").strip()
    if env.lower() in ("0", "off", "no", "false"):
        return None
    if env:
        return Path(env)
    from engine.paths import user_data_dir

    return user_data_dir() / "cache" / "hashes.json"


class _HashCache:
    """(absolute path, size, mtime_ns, ctime_ns) -> sha256, so a 5 GB model is hashed once, not per start.

    ctime is part of the key because, unlike mtime, it cannot be set back by the user (os.utime): a file
    edited in place and given its old mtime still misses the cache. A corrupt or unreadable cache file is
    ignored and rebuilt; failing to write it only costs a re-hash next time.
    """

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self.entries: dict[str, list] = {}
        self.dirty = False
        self.misses = 0  # files actually read
        if path is None:
            return
        try:
            data = load_json(path)
            if isinstance(data, dict) and data.get("version") == 1 and isinstance(data.get("files"), dict):
                self.entries = data["files"]
        except (OSError, ValueError):
            pass

    @staticmethod
    def _key(path: Path) -> tuple[str, list]:
        st = path.stat()
        return str(path.resolve()), [st.st_size, st.st_mtime_ns, st.st_ctime_ns]

    def sha256(self, path: Path, on_bytes: Optional[Callable[[int], None]] = None, use_cache: bool = True) -> str:
        key, stamp = self._key(path)
        hit = self.entries.get(key)
        if (use_cache and isinstance(hit, list) and len(hit) == 4 and hit[:3] == stamp and isinstance(hit[3], str)
                and _SHA_RE.match(hit[3])):
            if on_bytes is not None:
                on_bytes(stamp[0])
            return hit[3]
        digest = sha256_file(path) if on_bytes is None else sha256_file(path, on_bytes)
        self.misses += 1
        self.entries.pop(key, None)  # re-insert at the end: the oldest entries are the ones dropped
        self.entries[key] = [*stamp, digest]
        self.dirty = True
        return digest

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        entries = dict(list(self.entries.items())[-_MAX_CACHE_ENTRIES:])
        try:
            write_text(self.path, json.dumps({"version": 1, "files": entries}))
        except OSError as e:
            log.debug("could not write the hash cache %s: %s", self.path, e)
        self.dirty = False


# ============================================================================================ manifests
def _files(folder: Path) -> list[str]:
    """Relative POSIX paths of the files a manifest covers: all, except the manifest itself and hidden
    files (.DS_Store, editor temp files), which change behind the user's back and are never read."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.startswith("."):
                continue
            rel = (Path(root) / name).relative_to(folder).as_posix()
            if rel != MANIFEST and (Path(root) / name).is_file():
                out.append(rel)
    return sorted(out)


def _is_weights(rel: str) -> bool:
    return rel.endswith(WEIGHT_SUFFIXES)


def write_manifest(folder: str | Path) -> Path:
    """Write ``folder/manifest.json``: {format, files: {relpath: {sha256, bytes}}} for every file in the
    folder (subfolders included) but the manifest itself. Returns its path."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ModelError(f"{folder} is not a folder", path=folder)
    cache = _HashCache(hash_cache_path())
    files = {}
    for rel in _files(folder):
        p = folder / rel
        files[rel] = {"sha256": cache.sha256(p), "bytes": p.stat().st_size}
    cache.save()
    path = folder / MANIFEST
    write_text(path, json.dumps({"format": MANIFEST_FORMAT, "algorithm": "sha256", "files": files}, indent=1))
    return path


def _read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / MANIFEST
    redo = f"(if you trust the files, rewrite it with 'omfa manifest {folder}')"
    try:
        data = load_json(path)
    except FileNotFoundError:
        raise ModelError(f"{folder} has no {MANIFEST}; write one with 'omfa manifest {folder}'",
                         path=folder) from None
    except JsonError as e:
        raise ModelError(f"{path} could not be read: it {e.reason} {redo}", path=path, field=e.field) from None
    except (OSError, ValueError) as e:
        raise ModelError(f"{path} could not be read: {e} {redo}", path=path) from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or not isinstance(data.get("files"), dict):
        raise ModelError(f"{path} is not an OMFA manifest (format {MANIFEST_FORMAT!r} with a 'files' table) {redo}",
                         path=path)
    files = data["files"]
    for rel, entry in files.items():
        parts = Path(rel).parts
        # A manifest only speaks about files inside its folder.
        if not rel or Path(rel).is_absolute() or ".." in parts or "\\" in rel or rel == MANIFEST:
            raise ModelError(f"{path} lists an invalid path {rel!r} {redo}", path=path)
        if (not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
                or not _SHA_RE.match(entry["sha256"]) or type(entry.get("bytes")) is not int or entry["bytes"] < 0):
            raise ModelError(f"{path}: the entry for {rel} needs a 64-hex-digit 'sha256' and an integer 'bytes' {redo}",
                             path=path)
    return files


def has_manifest(folder: str | Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def verify_manifest(folder: str | Path, use_cache: bool = True,
                    progress: Optional[Callable[[int, int], None]] = None) -> VerifyResult:
    """Check every file listed in ``folder/manifest.json``; raise ModelError naming the first that is
    missing, truncated (wrong size) or modified (wrong sha256), or weights present but not listed.

    ``use_cache`` False re-reads every file (a verification the user asked for); ``progress(done, total)``
    is called with bytes hashed so far and in all.

    Sizes are checked for all files before any is hashed, so a missing or truncated file is reported at
    once, not after hashing gigabytes.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ModelError(f"{folder} is not a folder", path=folder)
    files = _read_manifest(folder)
    advice = "re-download or re-export the model; do not use it as is"
    for rel, entry in sorted(files.items()):
        p = folder / rel
        if not p.is_file():
            raise ModelError(f"{folder} is incomplete: {rel} is missing (it is listed in {MANIFEST}); {advice}",
                             path=folder)
        size = p.stat().st_size
        if size < entry["bytes"]:
            raise ModelError(f"{p} is truncated: {size} bytes where {MANIFEST} says {entry['bytes']} "
                             f"(an interrupted download or copy, or the file was edited); {advice}", path=p)
        if size != entry["bytes"]:
            raise ModelError(f"{p} has the wrong size: {size} bytes, {MANIFEST} says {entry['bytes']} "
                             f"(modified after the manifest was written); {advice}", path=p)
    for rel in _files(folder):
        if _is_weights(rel) and rel not in files:
            raise ModelError(f"{folder / rel} is not listed in {MANIFEST}: weights added after the manifest was "
                             f"written are refused (if you put it there yourself: 'omfa manifest {folder}')")
    cache = _HashCache(hash_cache_path())
    total, done = sum(e["bytes"] for e in files.values()), [0]

    def on_bytes(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    try:
        for rel, entry in sorted(files.items()):
            digest = cache.sha256(folder / rel, on_bytes if progress is not None else None, use_cache)
            if digest != entry["sha256"]:
                raise ModelError(f"{folder / rel} does not match {MANIFEST} (sha256 {digest[:16]}…, expected "
                                 f"{entry['sha256'][:16]}…): it was modified or corrupted after the manifest "
                                 f"was written; {advice}")
    finally:
        cache.save()  # what was hashed stays valid even when a later file fails
    return VerifyResult(folder, len(files), sum(e["bytes"] for e in files.values()), cache.misses)


def check_folder(folder: str | Path, what: str = "model folder", warn_missing: bool = True) -> Optional[VerifyResult]:
    """Verify ``folder``'s manifest when it has one; without one, log a warning (``warn_missing``) and go on:
    folders converted by older versions or by hand have none."""
    folder = Path(folder)
    if has_manifest(folder):
        return verify_manifest(folder)
    if warn_missing:
        log.warning("%s %s has no %s, so the integrity of its weights cannot be checked (folders written by "
                    "older versions or by hand have none). If you trust these files, add one with: "
                    "omfa manifest %s", what, folder, MANIFEST, folder)
    return None


# ============================================================================================ pickle
_RECIPES = {
    "unet": 'UNet2DConditionModel.from_pretrained("{src}", use_safetensors=False)'
            '.save_pretrained("{dst}", safe_serialization=True)',
    "vae": 'AutoencoderKL.from_pretrained("{src}", use_safetensors=False)'
           '.save_pretrained("{dst}", safe_serialization=True)',
    "text_encoder": 'transformers: CLIPTextModel.from_pretrained("{src}", use_safetensors=False)'
                    '.save_pretrained("{dst}", safe_serialization=True)',
    "file": 'StableDiffusionXLPipeline.from_single_file("{src}")'
            '.save_pretrained("{dst}", safe_serialization=True), then omfa convert --base {dst}',
    "pipeline": 'DiffusionPipeline.from_pretrained("{src}", use_safetensors=False)'
                '.save_pretrained("{dst}", safe_serialization=True)',
}


def pickle_message(file: Path, kind: str = "pipeline") -> str:
    """Why a pickle file is refused and how to convert it (``kind``: unet, vae, text_encoder, file, pipeline)."""
    file = Path(file)
    src = file if kind == "file" else file.parent
    recipe = _RECIPES.get(kind, _RECIPES["pipeline"]).format(src=src, dst=f"{src.with_suffix('')}-safetensors")
    lib = "" if recipe.startswith("transformers") else "diffusers: "
    return (f"{file} is a pickle checkpoint; OMFA never unpickles weights because loading pickle can run "
            f"arbitrary code. Convert it to safetensors on a machine you trust, e.g. with {lib}{recipe}")


def refuse_pickle_file(path: str | Path, kind: str = "file") -> None:
    """Raise when ``path`` is itself a pickle file (a user passed a .ckpt where a folder was expected)."""
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES and path.is_file():
        raise ModelError(pickle_message(path, kind))


def refuse_pickle_only(folder: str | Path, kind: str = "pipeline") -> None:
    """Raise when ``folder`` holds pickle weights and no safetensors: it can only be loaded by unpickling."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    pickles = [n for n in names if n.lower().endswith(PICKLE_SUFFIXES)]
    if pickles and not any(n.endswith(".safetensors") for n in names):
        raise ModelError(pickle_message(folder / pickles[0], kind))


# ============================================================================================ shapes
def safetensors_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a safetensors header (reads the header only, never the data).

    Also catches a truncated file: the header says where the last tensor ends.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelError(f"{path} is not a safetensors file ({size} bytes)", path=path)
        n = struct.unpack("<Q", head)[0]
        if n > min(size - 8, _MAX_HEADER):
            raise ModelError(f"{path} is not a safetensors file (or is truncated): its header claims {n} bytes",
                             path=path)
        try:
            header = parse_json(f.read(n), allow_nan=True)
        except ValueError as e:
            raise ModelError(f"{path} is not a safetensors file: unreadable header ({e})", path=path) from None
    if not isinstance(header, dict):
        raise ModelError(f"{path} is not a safetensors file: its header is not a table", path=path)
    shapes, end = {}, 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            shape = tuple(int(d) for d in info["shape"])
            end = max(end, int(info["data_offsets"][1]))
        except (TypeError, KeyError, IndexError, ValueError):
            raise ModelError(f"{path} is not a safetensors file: bad header entry for {name!r}", path=path) from None
        shapes[name] = shape
    if 8 + n + end > size:
        raise ModelError(f"{path} is truncated: its header describes {8 + n + end} bytes but the file has {size}",
                         path=path)
    return shapes


def diffusers_weights(folder: Path, stem: str = "diffusion_pytorch_model") -> list[Path]:
    """The safetensors file(s) diffusers' from_pretrained(use_safetensors=True) reads in ``folder``:
    ``{stem}.safetensors`` or the shards its ``.safetensors.index.json`` names. [] when neither exists."""
    single = folder / f"{stem}.safetensors"
    if single.is_file():
        return [single]
    index = folder / f"{stem}.safetensors.index.json"
    if not index.is_file():
        return []
    try:
        shards = sorted(set(load_json(index)["weight_map"].values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ModelError(f"{index} is not a valid shard index: {e}", path=index) from None
    bad = [s for s in shards if not isinstance(s, str) or Path(s).name != s]
    if bad:
        raise ModelError(f"{index} names a shard outside its folder: {bad[0]!r}", path=index)
    return [folder / s for s in shards]


_CONFIG_HINT_KEYS = ("in_channels", "out_channels", "block_out_channels", "layers_per_block", "cross_attention_dim",
                     "latent_channels", "channels", "blocks", "transformer_layers_per_block", "attention_head_dim")
# Weights saved by old diffusers versions use these attention names; diffusers renames them on load, so their
# key sets legitimately differ from a fresh model's (shapes of the common keys are still compared).
_LEGACY_SUFFIXES = (".query.weight", ".key.weight", ".value.weight", ".proj_attn.weight")


def compare_shapes(expected: dict[str, tuple[int, ...]], actual: dict[str, tuple[int, ...]], config_path: Path,
                   weights: Path | str, config: Optional[dict] = None, check_keys: bool = True) -> None:
    """Raise ModelError naming the config, the tensor and both shapes when the weights do not fit the config."""
    hint = ""
    if config:
        shown = [f"{k}={config[k]}" for k in _CONFIG_HINT_KEYS if k in config]
        hint = f" (config: {', '.join(shown)})" if shown else ""
    bad = [(k, tuple(e), tuple(actual[k])) for k, e in expected.items() if k in actual and tuple(actual[k]) != tuple(e)]
    if bad:
        k, e, a = bad[0]
        more = f"; {len(bad) - 1} more tensors differ" if len(bad) > 1 else ""
        raise ModelError(f"{config_path} does not match the weights in {weights}: tensor {k} has shape {list(a)} "
                         f"in the weights but the config implies {list(e)}{more}{hint}", path=config_path)
    if not check_keys:
        return
    missing = sorted(set(expected) - set(actual))
    if missing:
        raise ModelError(f"{config_path} does not match the weights in {weights}: the config implies "
                         f"{len(missing)} tensor(s) the weights lack, e.g. {missing[0]} (loading would leave "
                         f"them random){hint}", path=config_path)
    extra = sorted(set(actual) - set(expected))
    if extra:
        raise ModelError(f"{config_path} does not match the weights in {weights}: the weights hold {len(extra)} "
                         f"tensor(s) the config has no place for, e.g. {extra[0]}{hint}", path=config_path)


def read_json_object(path: Path) -> dict:
    """A JSON file that must hold an object; ModelError naming the file (and the field, for deep nesting)
    otherwise. Refuses NaN/Infinity, nesting deeper than 32 levels, FIFOs and files over 64 MB."""
    try:
        data = load_json(path)
    except JsonError as e:
        raise ModelError(str(e), path=path, field=e.field) from None
    except OSError as e:
        raise ModelError(f"{path} is invalid: {e.strerror or e}", path=path) from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} is invalid: expected a JSON object, found {type(data).__name__}", path=path)
    return data


# Sizes in a diffusers UNet/VAE config.json: (field, may be a list). Checked before the library builds the
# model, whose own errors for a wrong type ("not all arguments converted during string formatting") name
# neither the file nor the field.
_CONFIG_SIZES = {"in_channels": False, "out_channels": False, "sample_size": False, "norm_num_groups": False,
                 "latent_channels": False, "cross_attention_dim": True, "layers_per_block": True,
                 "attention_head_dim": True, "num_attention_heads": True, "transformer_layers_per_block": True,
                 "block_out_channels": True}
_MAX_CONFIG_SIZE = 1 << 16


def check_config_sizes(config: dict, cfg_path: Path) -> None:
    """Each size in a diffusers config is a positive integer (or a list of them, where the library takes one);
    block types are lists of names. ModelError naming the file and the field."""
    def bad(name: str, v: Any, words: str) -> ModelError:
        return ModelError(f"{cfg_path} is invalid: {name} must be {words}, not {v!r:.60}", path=cfg_path, field=name)

    def ok(v: Any) -> bool:
        return type(v) is int and 0 < v <= _MAX_CONFIG_SIZE

    for name, listable in _CONFIG_SIZES.items():
        if name not in config or config[name] is None:
            continue
        v = config[name]
        if isinstance(v, list) and listable:
            flat = [x for item in v for x in (item if isinstance(item, list) else [item])]
            if not v or not all(ok(x) for x in flat):
                raise bad(name, v, f"a list of whole numbers from 1 to {_MAX_CONFIG_SIZE}")
        elif not ok(v):
            raise bad(name, v, f"a whole number from 1 to {_MAX_CONFIG_SIZE}"
                               + (" (or a list of them)" if listable else ""))
    for name in ("down_block_types", "up_block_types"):
        v = config.get(name)
        if v is not None and (not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v)):
            raise bad(name, v, "a list of block type names")


def check_diffusers_weights(cls, folder: str | Path) -> None:
    """Compare a diffusers model folder's config.json with its safetensors before from_pretrained reads it.

    diffusers raises a long error for some mismatches and silently initialises missing tensors at random
    for others (e.g. more layers_per_block in the config than in the weights); both become one ModelError
    here. The model is built on the meta device: no memory, a fraction of a second even for SDXL.
    """
    import torch

    folder = Path(folder)
    cfg_path = folder / "config.json"
    config = read_json_object(cfg_path)
    check_config_sizes(config, cfg_path)
    files = diffusers_weights(folder)
    if not files:
        return  # the caller reports the missing weights in its own words
    try:
        with torch.device("meta"):
            model = cls.from_config(config)
    except Exception as e:  # noqa: BLE001 - any construction failure means the config is unusable
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise ModelError(f"{cfg_path} is not a valid {cls.__name__} config: {type(e).__name__}: {first}",
                         path=cfg_path) from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    actual: dict[str, tuple[int, ...]] = {}
    for f in files:
        if not f.is_file():
            raise ModelError(f"{folder} is incomplete: {f.name} (a weight shard) is missing", path=folder)
        actual.update(safetensors_shapes(f))
    legacy = any(k.endswith(_LEGACY_SUFFIXES) for k in actual)
    where = files[0] if len(files) == 1 else f"{folder} ({len(files)} shards)"
    compare_shapes(expected, actual, cfg_path, where, config, check_keys=not legacy)


# ============================================================================================ values
ABSURD_WEIGHT = 1e6  # no trained layer holds a weight this large (fp16 stops at 65504); a damaged file may


class NonFiniteError(ModelError):
    """A model's weights or outputs hold NaN, infinite or absurd values: it would make black or noise images.
    The message names the model (and the tensor or the step)."""


def check_weights_finite(tensors: dict[str, Any], where: str | Path, what: str) -> None:
    """Every floating-point tensor in ``tensors`` (name -> tensor) is finite and below ``ABSURD_WEIGHT`` in
    magnitude; NonFiniteError naming ``what`` (e.g. "the UNet"), ``where`` (its folder) and the first bad
    tensor otherwise. One max-abs reduction per tensor and one comparison at the end: about a memory pass
    over the weights, which loading has just made anyway."""
    import torch

    named = [(k, t) for k, t in tensors.items() if torch.is_tensor(t) and t.is_floating_point() and t.numel()]
    if not named:
        return
    with torch.no_grad():
        peaks = torch.stack([t.detach().abs().amax().float().cpu() for _, t in named])
        fine = torch.isfinite(peaks) & (peaks < ABSURD_WEIGHT)
        if bool(fine.all()):
            return
        i = int((~fine).nonzero()[0])
    name, t = named[i]
    kind = "NaN" if bool(torch.isnan(t).any()) else "infinite values" if bool(torch.isinf(t).any()) \
        else f"absurd values (up to {float(peaks[i]):.3g})"
    raise NonFiniteError(f"the model in {where} cannot make images: {what} weight '{name}' holds {kind} "
                         "(a damaged or badly converted file; re-copy, re-download or re-train it)", path=where,
                         field=name)


def check_output_finite(x: Any, what: str) -> None:
    """NonFiniteError when the tensor ``x`` (a UNet or codec output) holds NaN or infinite values; one
    reduction and one sync, a fraction of the step that made it. ``what`` says which output at which step."""
    import torch

    if not bool(torch.isfinite(x).all()):
        raise NonFiniteError(f"{what} holds NaN or infinite values")


def _size(n: float) -> str:
    if n < 1024:
        return f"{int(n)} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"
    return ""
