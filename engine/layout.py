"""The joint canvas: panels ``person | garment | head`` side by side along the width.

All panels share one height; each has its own width (from the model config). The same layout describes the
image canvas and, divided by the codec's factor, the latent canvas. Tasks are just masks over the panels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping

from engine.errors import OmfaError

PANEL_ORDER: tuple[str, ...] = ("person", "garment", "head")


class Task(str, Enum):
    """What to generate. The value is the CLI/JSON spelling."""

    TRY_OFF = "try-off"        # person photo -> flat garment
    TRY_ON = "try-on"          # garment + head + pose -> person (a new pose is just another guide)
    MULTI_VIEW = "multi-view"  # try-on for N orbit views in one batch

    def __str__(self) -> str:  # the spelling, in f-strings and messages too (as a StrEnum would)
        return self.value

    @classmethod
    def parse(cls, value: "str | Task") -> "Task":
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(t.value for t in cls)
            raise LayoutError(f"task must be one of {names}, not {value!r}", field="task") from None


# Which panels each task generates; every other present panel is a clean condition.
GENERATED: dict[Task, frozenset[str]] = {
    Task.TRY_OFF: frozenset({"garment"}),
    Task.TRY_ON: frozenset({"person"}),
    Task.MULTI_VIEW: frozenset({"person"}),
}


class LayoutError(OmfaError, ValueError):
    pass


@dataclass(frozen=True)
class PanelLayout:
    """Panel geometry in pixels, and its latent twin.

    Attributes
    ----------
    widths : mapping panel name -> pixel width, in canvas order (a subset of PANEL_ORDER)
    height : int     pixel height shared by all panels
    factor : int     codec downsampling factor (8 for SD VAEs)
    """

    widths: Mapping[str, int]
    height: int
    factor: int = 8
    _order: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.widths) - set(PANEL_ORDER)
        if unknown:
            raise LayoutError(f"unknown panel(s) {sorted(unknown)}; panels are {', '.join(PANEL_ORDER)}")
        if not self.widths:
            raise LayoutError("a layout needs at least one panel")
        for name, w in list(self.widths.items()) + [("height", self.height)]:
            if w <= 0 or w % self.factor:
                raise LayoutError(f"{name} size {w} must be a positive multiple of the codec factor {self.factor}")
        order = tuple(p for p in PANEL_ORDER if p in self.widths)
        object.__setattr__(self, "_order", order)
        object.__setattr__(self, "widths", {p: int(self.widths[p]) for p in order})

    # ---------------------------------------------------------------- geometry
    @property
    def panels(self) -> tuple[str, ...]:
        return self._order

    @property
    def width(self) -> int:
        """Pixel width of the whole canvas."""
        return sum(self.widths.values())

    @property
    def latent_height(self) -> int:
        return self.height // self.factor

    @property
    def latent_width(self) -> int:
        return self.width // self.factor

    def panel_size(self, panel: str) -> tuple[int, int]:
        """(width, height) in pixels of one panel."""
        self._check(panel)
        return self.widths[panel], self.height

    def slices(self, latent: bool = True) -> dict[str, slice]:
        """Column slices of each panel on the latent (default) or pixel canvas."""
        f = self.factor if latent else 1
        out, x = {}, 0
        for p in self._order:
            w = self.widths[p] // f
            out[p] = slice(x, x + w)
            x += w
        return out

    def without(self, *panels: str) -> "PanelLayout":
        return PanelLayout({p: w for p, w in self.widths.items() if p not in panels}, self.height, self.factor)

    # ---------------------------------------------------------------- tensors
    def concat(self, panels: Mapping[str, "object"], latent: bool = True, fill: float = 0.0):
        """Place per-panel tensors side by side.

        Parameters
        ----------
        panels : panel name -> tensor (B, C, h, w_panel); a missing panel is filled with ``fill``
            (an absent condition looks like a dropped one, which the model saw in training).

        Returns
        -------
        torch.Tensor (B, C, h, W) with W the canvas width (latent or pixel).
        """
        import torch

        extra = set(panels) - set(self._order)
        if extra:
            raise LayoutError(f"panel(s) {sorted(extra)} are not in this layout ({', '.join(self._order)})")
        ref = next(iter(panels.values()), None)
        if ref is None:
            raise LayoutError("concat needs at least one panel tensor")
        f = self.factor if latent else 1
        h = self.height // f
        parts = []
        for p in self._order:
            w = self.widths[p] // f
            t = panels.get(p)
            if t is None:
                t = torch.full((ref.shape[0], ref.shape[1], h, w), fill, dtype=ref.dtype, device=ref.device)
            elif tuple(t.shape[-2:]) != (h, w):
                raise LayoutError(f"{p} panel is {tuple(t.shape[-2:])} (h, w) but the layout needs {(h, w)}")
            parts.append(t)
        batch = max(t.shape[0] for t in parts)
        parts = [t.expand(batch, *t.shape[1:]) if t.shape[0] == 1 else t for t in parts]
        return torch.cat(parts, dim=-1)

    def split(self, canvas, latent: bool = True) -> dict[str, "object"]:
        """Inverse of :meth:`concat`: canvas (B, C, h, W) -> panel name -> (B, C, h, w_panel) views."""
        f = self.factor if latent else 1
        if canvas.shape[-1] != self.width // f or canvas.shape[-2] != self.height // f:
            raise LayoutError(f"canvas is {tuple(canvas.shape[-2:])} (h, w) but the layout is "
                              f"{(self.height // f, self.width // f)}")
        return {p: canvas[..., s] for p, s in self.slices(latent).items()}

    def mask(self, generate: "Task | str | set[str] | frozenset[str]", latent: bool = True):
        """Component mask (1, 1, h, W): 1 over generated panels, 0 over clean ones.

        ``generate`` is a task or an explicit set of panel names.
        """
        import torch

        if isinstance(generate, (Task, str)):
            generate = GENERATED[Task.parse(generate)]
        missing = set(generate) - set(self._order)
        if missing:
            raise LayoutError(f"cannot generate panel(s) {sorted(missing)}: not in this layout")
        f = self.factor if latent else 1
        m = torch.zeros(1, 1, self.height // f, self.width // f)
        for p, s in self.slices(latent).items():
            if p in generate:
                m[..., s] = 1.0
        return m

    # ---------------------------------------------------------------- several views on one canvas
    def views_canvas(self, persons: "list", rest: Mapping[str, "object"], latent: bool = True):
        """``k`` person panels side by side, then the other panels once: ``p1 .. pk | garment | head``.

        Multi-view on one canvas computes the garment and head columns once per step for ``k`` views
        (a model must have been trained on such canvases: ``ModelConfig.views_per_canvas``).

        Parameters
        ----------
        persons : k tensors (B, C, h, w_person)
        rest : the other panels, as for :meth:`concat` (missing ones filled with zeros)

        Returns
        -------
        torch.Tensor (B, C, h, k * w_person + W - w_person)
        """
        import torch

        self._check("person")
        parts = list(persons)
        if len(self._order) > 1:
            others = self.without("person")
            if rest:
                parts.append(others.concat(rest, latent))
            else:  # nothing given: zeros (e.g. the pose latent, which only the person panels carry)
                ref, f = parts[0], self.factor if latent else 1
                parts.append(ref.new_zeros(*ref.shape[:2], self.height // f, others.width // f))
        batch = max(t.shape[0] for t in parts)
        return torch.cat([t.expand(batch, *t.shape[1:]) if t.shape[0] == 1 else t for t in parts], dim=-1)

    def views_person_slices(self, views: int, latent: bool = True) -> list[slice]:
        """Column slices of the ``views`` person panels of :meth:`views_canvas`."""
        w = self.widths["person"] // (self.factor if latent else 1)
        return [slice(i * w, (i + 1) * w) for i in range(views)]

    def best_views_per_canvas(self, views: int, most: int) -> int:
        """The views per canvas (1 .. ``most``) that makes ``views`` views on the narrowest canvases in all.

        Canvases of one request share a width, so a short last group is padded; e.g. 6 views with up to 4
        per canvas run as 2 x 3 (no padding), not 4 + 2 padded to 4. Cost is counted in canvas columns
        (``ceil(views / k) * (k * w_person + w_rest)``); ties go to more views per canvas (fewer forwards).
        """
        self._check("person")
        wp, rest = self.widths["person"], self.width - self.widths["person"]
        ks = range(1, max(1, min(most, views)) + 1)
        return min(ks, key=lambda k: (-(-views // k) * (k * wp + rest), -k))

    def views_mask(self, views: int, latent: bool = True):
        """(1, 1, h, W) mask of a :meth:`views_canvas`: 1 over the ``views`` person panels (generated)."""
        import torch

        f = self.factor if latent else 1
        w = self.widths["person"] // f
        m = torch.zeros(1, 1, self.height // f, (self.width + (views - 1) * self.widths["person"]) // f)
        m[..., :views * w] = 1.0
        return m

    def to_dict(self) -> dict:
        return {"widths": dict(self.widths), "height": self.height, "factor": self.factor}

    @classmethod
    def from_dict(cls, d: Mapping) -> "PanelLayout":
        return cls(dict(d["widths"]), int(d["height"]), int(d.get("factor", 8)))

    def _check(self, panel: str) -> None:
        if panel not in self.widths:
            raise LayoutError(f"panel {panel!r} is not in this layout ({', '.join(self._order)})")
