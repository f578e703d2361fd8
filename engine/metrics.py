"""Image metrics for evaluation: deterministic project code (numpy / scikit-image), plus a registry of
optional library metrics that never downloads anything.

All images are sRGB ``np.uint8`` arrays of shape (H, W, 3); masks are ``bool`` arrays of shape (H, W).

Colour differences are **CIEDE2000** (``skimage.color.deltaE_ciede2000``, validated against Sharma et al.
2005's test data in the tests) on CIELAB D65 values.
"""
from __future__ import annotations

import importlib.util
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

# ------------------------------------------------------------------------------------ helpers / masks


def _check_img(img: np.ndarray, name: str = "image") -> np.ndarray:
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"{name} must be (H, W, 3), got shape {a.shape}")
    return a


def _check_mask(mask: np.ndarray | None, shape: tuple[int, int], name: str = "mask") -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask, bool)
    if m.shape != tuple(shape):
        raise ValueError(f"{name} shape {m.shape} does not match image shape {tuple(shape)}")
    return m


def foreground_mask(img: np.ndarray, background: tuple[int, int, int] = (255, 255, 255),
                    tol: int = 12) -> np.ndarray:
    """Pixels that differ from a plain background colour.

    Parameters
    ----------
    img : np.ndarray, shape (H, W, 3) uint8
    background : tuple of 3 int
    tol : int
        A pixel is foreground when any channel differs from ``background`` by more than ``tol``.

    Returns
    -------
    np.ndarray, shape (H, W) bool
    """
    a = _check_img(img).astype(np.int16)
    return (np.abs(a - np.asarray(background, np.int16)).max(axis=2) > tol)


def silhouette_iou(pred_mask: np.ndarray, target_mask: np.ndarray) -> float:
    """Intersection over union of two (H, W) bool masks; 1.0 when both are empty."""
    p, t = np.asarray(pred_mask, bool), np.asarray(target_mask, bool)
    if p.shape != t.shape:
        raise ValueError(f"mask shapes differ: {p.shape} vs {t.shape}")
    union = np.logical_or(p, t).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, t).sum() / union)


def to_lab(img: np.ndarray) -> np.ndarray:
    """sRGB uint8 (..., 3) → CIELAB float64 (..., 3), D65."""
    from skimage.color import rgb2lab

    a = np.asarray(img, np.float64) / 255.0
    return rgb2lab(a.reshape(-1, 1, 3)).reshape(a.shape)


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 between CIELAB arrays of shape (..., 3); returns shape (...)."""
    from skimage.color import deltaE_ciede2000

    return np.asarray(deltaE_ciede2000(np.asarray(lab1, np.float64), np.asarray(lab2, np.float64)))


# ----------------------------------------------------------------------------------------- SSIM / PSNR


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Structural similarity of two RGB images.

    Wang et al. 2004 settings: Gaussian window σ = 1.5 (11 × 11), population covariances, K1 = 0.01,
    K2 = 0.03, data range 255, SSIM map averaged over the 3 channels. With ``mask`` the SSIM *map* is
    averaged over the masked pixels only (the windows still see their neighbourhood), which is the
    "foreground SSIM" of the evaluation.

    Parameters
    ----------
    a, b : np.ndarray, shape (H, W, 3) uint8
    mask : np.ndarray, shape (H, W) bool, optional

    Returns
    -------
    float in [-1, 1]; 1.0 for identical images. NaN if ``mask`` is empty.
    """
    from skimage.metrics import structural_similarity

    a, b = _check_img(a, "a"), _check_img(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    m = _check_mask(mask, a.shape[:2])
    _, smap = structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=255.0,
                                    channel_axis=2, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, full=True)
    smap = smap.mean(axis=2)
    if m is None:
        return float(smap.mean())
    return float(smap[m].mean()) if m.any() else float("nan")


def _sq_err(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> tuple[float, int]:
    a, b = _check_img(a, "a"), _check_img(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    m = _check_mask(mask, a.shape[:2])
    d = a.astype(np.float64) - b.astype(np.float64)
    if m is not None:
        d = d[m]
    return float(np.sum(d * d)), int(d.size)


def _psnr_from_mse(mse: float) -> float:
    return float("inf") if mse == 0 else float(10.0 * math.log10(255.0 ** 2 / mse))


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (peak 255), over all channels of the (masked) pixels.

    Parameters
    ----------
    a, b : np.ndarray, shape (H, W, 3) uint8
    mask : np.ndarray, shape (H, W) bool, optional

    Returns
    -------
    float; ``inf`` for identical images, NaN for an empty mask.
    """
    se, n = _sq_err(a, b, mask)
    return float("nan") if n == 0 else _psnr_from_mse(se / n)


def pooled_psnr(list_a: Sequence[np.ndarray], list_b: Sequence[np.ndarray],
                masks: Sequence[np.ndarray | None] | None = None) -> float:
    """PSNR of the MSE pooled over every (masked) pixel of every image pair.

    Unlike the mean of per-image PSNRs this is not dominated by a few near-perfect images (and is finite
    unless all pairs are identical).

    Parameters
    ----------
    list_a, list_b : sequences of np.ndarray, each (H_i, W_i, 3) uint8
    masks : sequence of (H_i, W_i) bool or None, optional
    """
    if len(list_a) != len(list_b):
        raise ValueError(f"{len(list_a)} vs {len(list_b)} images")
    masks = list(masks) if masks is not None else [None] * len(list_a)
    if len(masks) != len(list_a):
        raise ValueError(f"{len(masks)} masks for {len(list_a)} images")
    se_tot, n_tot = 0.0, 0
    for a, b, m in zip(list_a, list_b, masks):
        se, n = _sq_err(a, b, m)
        se_tot += se
        n_tot += n
    return float("nan") if n_tot == 0 else _psnr_from_mse(se_tot / n_tot)


# ------------------------------------------------------------------------------------------ colour


def dominant_colors(img: np.ndarray, mask: np.ndarray | None, k: int = 2,
                    max_pixels: int = 20000, iterations: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic k-means of the (masked) pixels in CIELAB.

    Initialisation is farthest-point from the pixel nearest the median colour, so the same input always
    gives the same clusters; large inputs are subsampled with a fixed stride.

    Parameters
    ----------
    img : np.ndarray, shape (H, W, 3) uint8
    mask : np.ndarray, shape (H, W) bool or None (all pixels)
    k : int
        Maximum number of clusters (fewer are returned when the image has fewer distinct colours).

    Returns
    -------
    centers : np.ndarray, shape (k', 3) float64 — CIELAB, sorted by decreasing weight
    weights : np.ndarray, shape (k',) float64 — pixel fractions, summing to 1
    """
    a = _check_img(img)
    m = _check_mask(mask, a.shape[:2])
    px = a.reshape(-1, 3) if m is None else a[m]
    if len(px) == 0:
        raise ValueError("dominant_colors: the mask selects no pixels")
    if len(px) > max_pixels:
        px = px[:: int(math.ceil(len(px) / max_pixels))]
    # k-means on the distinct colours weighted by count: exact and much faster on flat images.
    uniq, counts = np.unique(px, axis=0, return_counts=True)
    X = to_lab(uniq)
    w = counts.astype(np.float64)
    med = np.median(X, axis=0)
    centers = [X[np.argmin(((X - med) ** 2).sum(1))]]
    for _ in range(1, min(k, len(X))):
        d = np.min([((X - c) ** 2).sum(1) for c in centers], axis=0)
        if d.max() <= 1e-9:
            break
        centers.append(X[np.argmax(d)])
    C = np.array(centers)
    for _ in range(iterations):
        lab_ = np.argmin(((X[:, None, :] - C[None]) ** 2).sum(2), axis=1)
        newC = np.array([np.average(X[lab_ == j], axis=0, weights=w[lab_ == j]) if np.any(lab_ == j) else C[j]
                         for j in range(len(C))])
        if np.allclose(newC, C, atol=1e-6):
            break
        C = newC
    lab_ = np.argmin(((X[:, None, :] - C[None]) ** 2).sum(2), axis=1)
    wt = np.array([w[lab_ == j].sum() for j in range(len(C))])
    keep = wt > 0
    C, wt = C[keep], wt[keep] / wt.sum()
    order = np.argsort(-wt, kind="stable")
    return C[order], wt[order]


def dominant_color_delta_e(a: np.ndarray, b: np.ndarray, mask_a: np.ndarray | None = None,
                           mask_b: np.ndarray | None = None, k: int = 2) -> float:
    """Colour error between the dominant colours of two garments (CIEDE2000).

    Each image's ``k`` dominant colours are matched one-to-one by the assignment that minimises the
    weighted ΔE (brute force over permutations; k is small); each matched pair is weighted by the mean
    of its two pixel fractions. Unmatched clusters (when one image has fewer colours) are matched to
    their nearest counterpart.

    Parameters
    ----------
    a, b : np.ndarray, shape (H, W, 3) uint8 (sizes may differ)
    mask_a, mask_b : np.ndarray, (H, W) bool, optional — garment pixels

    Returns
    -------
    float — weighted mean CIEDE2000 of matched clusters.
    """
    ca, wa = dominant_colors(a, mask_a, k)
    cb, wb = dominant_colors(b, mask_b, k)
    if len(ca) < len(cb):  # make ``ca`` the longer list
        ca, wa, cb, wb = cb, wb, ca, wa
    D = delta_e(ca[:, None, :], cb[None, :, :])  # (na, nb)
    best = math.inf
    for perm in itertools.permutations(range(len(ca)), len(cb)):
        # clusters of ``ca`` in ``perm`` are matched to cb 0..nb-1; the others go to their nearest.
        pairs = list(zip(perm, range(len(cb))))
        rest = [(i, int(np.argmin(D[i]))) for i in range(len(ca)) if i not in perm]
        ww = np.array([(wa[i] + wb[j]) / 2 for i, j in pairs] + [wa[i] / 2 for i, _ in rest])
        dd = np.array([D[i, j] for i, j in pairs + rest])
        best = min(best, float((ww * dd).sum() / ww.sum()))
    return best


def _lab_pixels(a: np.ndarray, b: np.ndarray, mask_a: np.ndarray | None,
                mask_b: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The CIELAB pixels (N, 3) of two checked images, each within its mask (all pixels without one)."""
    la, lb = to_lab(_check_img(a, "a")), to_lab(_check_img(b, "b"))
    ma, mb = _check_mask(mask_a, la.shape[:2], "mask_a"), _check_mask(mask_b, lb.shape[:2], "mask_b")
    return (la.reshape(-1, 3) if ma is None else la[ma]), (lb.reshape(-1, 3) if mb is None else lb[mb])


def mean_color_delta_e(a: np.ndarray, b: np.ndarray, mask_a: np.ndarray | None = None,
                       mask_b: np.ndarray | None = None) -> float:
    """CIEDE2000 between the mean CIELAB colours of the (masked) pixels of two images."""
    pa, pb = _lab_pixels(a, b, mask_a, mask_b)
    if len(pa) == 0 or len(pb) == 0:
        return float("nan")
    return float(delta_e(pa.mean(0), pb.mean(0)))


# ------------------------------------------------------------------ content-sensitive (no weights needed)
#: Directions of the sliced colour EMD: a fixed Fibonacci sphere (deterministic, evenly spread).
_EMD_DIRECTIONS = 64
#: Edge energy (CIELAB units per pixel) below which a garment reads as plain: keeps the edge score of two
#: plain garments at 1 and makes faint noise count little.
EDGE_FLOOR = 0.5
EDGE_BINS = 12


def _sphere(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(1 - z * z)
    phi = math.pi * (3 - math.sqrt(5)) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], 1)


def color_histogram_distance(a: np.ndarray, b: np.ndarray, mask_a: np.ndarray | None = None,
                             mask_b: np.ndarray | None = None, quantiles: int = 256) -> float:
    """Earth mover's distance between the CIELAB colour histograms of two garments' (masked) pixels.

    Sliced: the mean, over 64 fixed directions of CIELAB space, of the 1-D Wasserstein-1 distance of the
    pixels' projections (via 256 quantiles), times 2 so that shifting every colour by ΔE76 = d gives d.
    Unlike a dominant or mean colour it sees *all* the colours and how much of each: a plain fill in the
    garment's mean colour is as far from a two-colour garment as its colours are from their mean, and a
    grey garment is as far as the colours are from grey.

    Parameters
    ----------
    a, b : (H, W, 3) uint8 (sizes may differ); mask_a, mask_b : (H, W) bool, optional — garment pixels

    Returns
    -------
    float ≥ 0 in CIELAB units (0: the same colours in the same amounts); NaN if a mask is empty.
    """
    pa, pb = _lab_pixels(a, b, mask_a, mask_b)
    if len(pa) == 0 or len(pb) == 0:
        return float("nan")
    u = _sphere(_EMD_DIRECTIONS)
    q = (np.arange(quantiles) + 0.5) / quantiles
    qa = np.quantile(pa @ u.T, q, axis=0)  # (quantiles, directions)
    qb = np.quantile(pb @ u.T, q, axis=0)
    return float(2.0 * np.abs(qa - qb).mean())


def _edge_histogram(lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Colour-edge energy per orientation bin, per pixel of ``mask`` (Di Zenzo gradient of all three
    CIELAB channels: an equal-lightness colour edge counts)."""
    from scipy.ndimage import sobel

    gx = np.stack([sobel(lab[..., c], axis=1) for c in range(3)], -1) / 8.0  # Sobel → units per pixel
    gy = np.stack([sobel(lab[..., c], axis=0) for c in range(3)], -1) / 8.0
    jxx, jyy, jxy = (gx * gx).sum(-1), (gy * gy).sum(-1), (gx * gy).sum(-1)
    lam = 0.5 * (jxx + jyy + np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2))
    mag, theta = np.sqrt(lam)[mask], (0.5 * np.arctan2(2 * jxy, jxx - jyy))[mask]
    bins = np.floor((theta % math.pi) / math.pi * EDGE_BINS).astype(np.int64) % EDGE_BINS
    return np.bincount(bins, weights=mag, minlength=EDGE_BINS) / max(int(mask.sum()), 1)


def edge_structure_score(a: np.ndarray, b: np.ndarray, mask: np.ndarray, erode: int = 2) -> float:
    """How alike the edge structure inside a garment is: 1 - the normalised L1 distance between the two
    images' magnitude-weighted colour-edge orientation histograms inside ``mask``.

    The mask is eroded by ``erode`` pixels first, so the garment's outline (which a fill in the right
    outline gets for free) does not count — only the pattern's own edges do: their amount and direction.
    The comparison does not need the pattern's phase to line up (a stripe shifted by half a period scores
    as the stripe), which SSIM does. Score = 1 - Σ|Ha - Hb| / (ΣHa + ΣHb + :data:`EDGE_FLOOR`).

    Parameters
    ----------
    a, b : (H, W, 3) uint8 of one size; mask : (H, W) bool — garment pixels

    Returns
    -------
    float in (0, 1]: 1 for the same edge structure (two plain garments included), near 0 when one is
    plain and the other patterned. NaN if nothing is left of the mask.
    """
    from scipy.ndimage import binary_erosion

    a, b = _check_img(a, "a"), _check_img(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    m = _check_mask(mask, a.shape[:2])
    if erode > 0:
        m = binary_erosion(m, np.ones((3, 3), bool), iterations=erode, border_value=0)
    if not m.any():
        return float("nan")
    ha, hb = _edge_histogram(to_lab(a), m), _edge_histogram(to_lab(b), m)
    return float(1.0 - np.abs(ha - hb).sum() / (ha.sum() + hb.sum() + EDGE_FLOOR))


# ---------------------------------------------------------------------------------- pattern analyser

PATTERN_FAMILIES: tuple[str, ...] = ("solid", "stripes", "checks", "dots", "other")
# How the garment generator's families are expected to be classified (print_block, letters and
# two-tone are non-periodic: "other"; a print on a plain ground may also read as "solid" if tiny).
GARMENT_FAMILY_TO_PATTERN: dict[str, str] = {
    "solid": "solid", "stripes": "stripes", "checks": "checks", "dots": "dots",
    "print_block": "other", "letters": "other", "two_tone": "other"}


@dataclass
class PatternEstimate:
    """What :func:`analyse_pattern` found.

    Attributes
    ----------
    family : str
        One of :data:`PATTERN_FAMILIES`.
    orientation_deg : float
        Stripes: stripe direction in degrees [0, 180), counter-clockwise from horizontal as seen on
        screen (the ``GarmentSpec.angle`` convention). Checks/dots: direction of the lines of the
        strongest lattice component. NaN for solid/other.
    period : float
        Repeat as a fraction of the image width (the ``GarmentSpec.period`` convention: checks = two
        cells, dots = lattice spacing). NaN for solid/other.
    contrast : float
        Standard deviation (CIELAB units) of the masked pixels along their main colour axis.
    periodicity : float
        R(P) - R(P/2) of the 1-D profile autocorrelation along the pattern normal (≈ 2 for clean stripes).
    """

    family: str
    orientation_deg: float = float("nan")
    period: float = float("nan")
    contrast: float = 0.0
    periodicity: float = 0.0


def _work_image(img: np.ndarray, mask: np.ndarray, max_width: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Downscale (area average) so the width is ≤ ``max_width``; returns Lab image, eroded mask and the
    work-pixel size in original pixels."""
    from PIL import Image
    from scipy.ndimage import binary_erosion

    H, W = mask.shape
    # Edge pixels mix garment and background: drop a 1-px rim before anything else.
    m = binary_erosion(mask, np.ones((3, 3), bool), border_value=0) if mask.sum() > 200 else mask
    if W > max_width:
        w = max_width
        h = max(1, int(round(H * w / W)))
        img = np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize((w, h), Image.BOX))
        mf = np.asarray(Image.fromarray((m * 255).astype(np.uint8)).resize((w, h), Image.BOX))
        m = mf >= 250  # work pixels fully inside the garment only
        scale = W / w
    else:
        scale = 1.0
    return to_lab(img), m, scale


def _profile(s: np.ndarray, ys: np.ndarray, xs: np.ndarray, theta: float, binw: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``s`` binned by t = x cos θ - y sin θ (θ: normal angle, y up). Returns (profile, counts)."""
    t = xs * math.cos(theta) - ys * math.sin(theta)
    idx = np.floor((t - t.min()) / binw).astype(np.int64)
    cnt = np.bincount(idx)
    tot = np.bincount(idx, weights=s)
    prof = np.where(cnt > 0, tot / np.maximum(cnt, 1), 0.0)
    return prof, cnt


def _profile_power(s: np.ndarray, ys: np.ndarray, xs: np.ndarray, theta: float, binw: float) -> float:
    prof, cnt = _profile(s, ys, xs, theta, binw)
    return float((cnt * prof ** 2).sum() / max(cnt.sum(), 1))


def _lag_corr(prof: np.ndarray, cnt: np.ndarray, lag: int) -> float:
    """Weighted Pearson correlation of the profile with itself shifted by ``lag`` bins."""
    if lag <= 0 or lag >= len(prof) - 2:
        return float("nan")
    a, b = prof[:-lag], prof[lag:]
    w = np.sqrt(cnt[:-lag] * cnt[lag:]).astype(np.float64)
    if (w > 0).sum() < 3:
        return float("nan")
    ma, mb = np.average(a, weights=w), np.average(b, weights=w)
    va, vb = np.average((a - ma) ** 2, weights=w), np.average((b - mb) ** 2, weights=w)
    if va <= 0 or vb <= 0:
        return float("nan")
    return float(np.average((a - ma) * (b - mb), weights=w) / math.sqrt(va * vb))


def _period_along(s: np.ndarray, ys: np.ndarray, xs: np.ndarray, theta: float, p0: float,
                  binw: float = 0.25) -> tuple[float, float]:
    """Refine the period (work px) along normal angle θ from a first guess ``p0``.

    Returns (period, periodicity) with periodicity = R(P) - R(P/2) of the profile autocorrelation."""
    prof, cnt = _profile(s, ys, xs, theta, binw)
    # Fine bins leave gaps (axis-aligned normals hit integer positions only): fill them by linear
    # interpolation so every lag compares real signal, then weight bins equally.
    ok = cnt > 0
    prof = np.interp(np.arange(len(prof)), np.nonzero(ok)[0], prof[ok])
    cnt = np.ones_like(prof)
    lags = np.arange(max(2, int(0.6 * p0 / binw)), int(1.5 * p0 / binw) + 2)
    r = np.array([_lag_corr(prof, cnt, int(L)) for L in lags])
    if not np.isfinite(r).any():
        return p0, 0.0
    i = int(np.nanargmax(r))
    lag = float(lags[i])
    if 0 < i < len(r) - 1 and np.isfinite(r[i - 1]) and np.isfinite(r[i + 1]):
        den = r[i - 1] - 2 * r[i] + r[i + 1]
        if den < 0:  # parabolic vertex of the peak
            lag += 0.5 * (r[i - 1] - r[i + 1]) / den
    period = lag * binw
    half = _lag_corr(prof, cnt, int(round(lag / 2)))
    per = float(r[i] - (half if np.isfinite(half) else 1.0))
    return period, per


def analyse_pattern(img: np.ndarray, mask: np.ndarray | None = None, *, solid_contrast: float = 4.0,
                    min_periodicity: float = 0.8, lattice_periodicity: float = 0.5,
                    lattice_ratio: float = 0.3,
                    max_period: float = 0.5, work_width: int = 96) -> PatternEstimate:
    """Classify a garment's pattern and measure its orientation and period.

    Method: the masked pixels are projected on their main CIELAB axis (so equal-luminance colour pairs
    still count); a contrast below ``solid_contrast`` is "solid". Otherwise the zero-padded power
    spectrum of the masked, mean-removed signal gives the strongest frequency k1 (periods between ~2 px
    and ``max_period`` of the width); a second peak at ≥ 30° from k1 with ≥ ``lattice_ratio`` of its
    power and a similar frequency makes a 2-D lattice. The orientation is refined by maximising the
    variance of the 1-D profile along the normal, and the period by the profile's autocorrelation,
    which must be genuinely periodic (R(P) - R(P/2) ≥ ``min_periodicity``; ``lattice_periodicity`` for
    2-D lattices, checked along both directions) and fit ≥ 2 repeats, or the result is "other".
    Lattices are "checks" when the two colours cover about equal areas (a checkerboard is 50/50) and
    "dots" when the minority colour covers < 41 %. Large images are area-downscaled to ``work_width``
    first, so 64 × 48 and 1024 × 768 renders are analysed the same way.

    Parameters
    ----------
    img : np.ndarray, shape (H, W, 3) uint8
    mask : np.ndarray, shape (H, W) bool, optional
        Garment pixels; default :func:`foreground_mask` on a white background.

    Returns
    -------
    PatternEstimate
    """
    img = _check_img(img)
    H, W = img.shape[:2]
    mask = foreground_mask(img) if mask is None else _check_mask(mask, (H, W))
    lab, m, scale = _work_image(img, mask, work_width)
    h, w = m.shape
    if m.sum() < 16:
        return PatternEstimate("other")
    X = lab[m]
    X = X - X.mean(0)
    evals, evecs = np.linalg.eigh(np.cov(X.T) + 1e-9 * np.eye(3))
    proj = X @ evecs[:, -1]
    contrast = float(proj.std())
    # Solid: low spread, and no small print either (a thin letter moves the std little but its pixels
    # sit far from the ground colour).
    if contrast < solid_contrast and np.percentile(np.abs(proj), 99.5) < 5 * solid_contrast:
        return PatternEstimate("solid", contrast=contrast)

    s_img = np.zeros((h, w))
    s_img[m] = proj
    N = 1 << int(math.ceil(math.log2(max(h, w) * 3)))  # zero padding: fine frequency sampling
    P = np.abs(np.fft.fft2(s_img, (N, N))) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(N), np.fft.fftfreq(N), indexing="ij")
    kr = np.hypot(fx, fy)
    band = (kr >= 1.0 / (max_period * w)) & (kr <= 0.45) & (fy >= 0)
    band &= ~((fy == 0) & (fx < 0))  # half plane: P(k) = P(-k)
    Pb = np.where(band, P, 0.0)
    i1 = int(np.argmax(Pb))
    k1 = np.array([fx.flat[i1], fy.flat[i1]])
    p1 = float(Pb.flat[i1])
    if p1 <= 0:
        return PatternEstimate("other", contrast=contrast)
    # Second, non-collinear peak of similar frequency (a 2-D lattice).
    ang = np.arctan2(fy, fx)
    a1 = math.atan2(k1[1], k1[0])
    dang = np.abs((ang - a1 + np.pi / 2) % np.pi - np.pi / 2)
    r1 = float(np.hypot(*k1))
    cand = band & (dang > math.radians(30)) & (kr > 0.7 * r1) & (kr < 1.45 * r1)
    P2 = np.where(cand, P, 0.0)
    i2 = int(np.argmax(P2))
    p2 = float(P2.flat[i2])
    k2 = np.array([fx.flat[i2], fy.flat[i2]])

    ys, xs = np.nonzero(m)
    ys_up = -ys.astype(np.float64)  # y up, so angles read counter-clockwise on screen
    xs = xs.astype(np.float64)
    # Image frequency (kx, ky down) → normal angle in the y-up frame.
    theta0 = math.atan2(-k1[1], k1[0])
    thetas = theta0 + np.radians(np.arange(-10, 10.5, 1.0))
    pw = [_profile_power(proj, -ys_up, xs, th, 0.5) for th in thetas]
    theta = float(thetas[int(np.argmax(pw))])
    period_px, periodicity = _period_along(proj, -ys_up, xs, theta, 1.0 / r1)

    lattice = p2 >= lattice_ratio * p1
    if lattice:
        theta_b = math.atan2(-k2[1], k2[0])
        _, per_b = _period_along(proj, -ys_up, xs, theta_b, 1.0 / float(np.hypot(*k2)))
        # A lattice is checked along both directions, each of which also carries the other's
        # harmonics, so it reads less clean than stripes: a lower bar (prints still fail it).
        periodicity = min(periodicity, per_b)
    # A pattern repeats: at least ~2 periods must fit across the garment along the normal.
    t = xs * math.cos(theta) - ys * math.sin(theta)
    extent = float(t.max() - t.min())
    if periodicity < (lattice_periodicity if lattice else min_periodicity) \
            or period_px > min(max_period * w, extent / 2):
        return PatternEstimate("other", contrast=contrast, periodicity=periodicity)

    orient = (math.degrees(theta) - 90.0) % 180.0
    period = period_px * scale / W
    if not lattice:
        return PatternEstimate("stripes", orient, period, contrast, periodicity)
    # Two-cluster split of the projection: minority colour area decides checks (50/50) vs dots.
    # Soft area coverage between the two extreme colours (robust percentiles): an anti-aliased pixel
    # counts by its mix, so a 50/50 checkerboard stays 50/50 even with 3-px cells.
    lo, hi = np.percentile(proj, 2), np.percentile(proj, 98)
    frac = float(np.clip((proj - lo) / max(hi - lo, 1e-9), 0.0, 1.0).mean())
    minority = min(frac, 1.0 - frac)
    if minority >= 0.41:
        # Checkerboard: the strongest components run along the diagonals, sqrt(2)/P apart.
        return PatternEstimate("checks", orient, period * math.sqrt(2.0), contrast, periodicity)
    # Dots repeat: one big print block on a plain ground also has a lattice-like spectrum (its edges), but
    # it is one shape, not a grid of them. A 2 x 2 grid is the least a dot pattern shows.
    if _minority_blobs(proj, m, frac) < MIN_DOTS:
        return PatternEstimate("other", contrast=contrast, periodicity=periodicity)
    return PatternEstimate("dots", orient, period, contrast, periodicity)


#: Separate minority-colour shapes a dot pattern must show (a 2 x 2 grid).
MIN_DOTS = 4


def _minority_blobs(proj: np.ndarray, m: np.ndarray, frac: float, min_pixels: int = 2) -> int:
    """Connected shapes (4-connected, >= ``min_pixels`` work pixels) of the minority colour inside ``m``.

    ``proj``: the masked pixels' main-axis projection (in ``m``'s order); ``frac``: the share of the
    high side, which decides which side is the minority."""
    from scipy.ndimage import label

    lo, hi = np.percentile(proj, 2), np.percentile(proj, 98)
    high = proj > (lo + hi) / 2
    minority = np.zeros(m.shape, bool)
    minority[m] = high if frac < 0.5 else ~high
    labels, n = label(minority)
    if n == 0:
        return 0
    sizes = np.bincount(labels.ravel())[1:]
    return int((sizes >= min_pixels).sum())


def pattern_matches(est: PatternEstimate, family: str, angle: float | None = None,
                    period: float | None = None, angle_tol: float = 15.0, period_tol: float = 0.2) -> bool:
    """Whether an estimate agrees with a ground truth pattern.

    Family must match; for stripes the orientation must be within ``angle_tol`` degrees (mod 180); for
    stripes/checks/dots the period must be within ``period_tol`` (relative).
    """
    if est.family != family:
        return False
    if family == "stripes" and angle is not None:
        d = abs((est.orientation_deg - angle + 90.0) % 180.0 - 90.0)
        if d > angle_tol:
            return False
    if family in ("stripes", "checks", "dots") and period is not None:
        if not abs(est.period - period) <= period_tol * period:
            return False
    return True


# ----------------------------------------------------------------------------- optional library metrics


@dataclass(frozen=True)
class Unavailable:
    """A metric that cannot run here, and exactly why."""

    reason: str

    def __str__(self) -> str:
        return f"unavailable: {self.reason}"


def _has(mod: str) -> bool:
    try:
        return importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
        return False


def _find_weight(weights_dir: Path | None, patterns: Sequence[str]) -> Path | None:
    if weights_dir is None or not Path(weights_dir).is_dir():
        return None
    for pat in patterns:
        hits = sorted(Path(weights_dir).rglob(pat))
        if hits:
            return hits[0]
    return None


def optional_metrics(weights_dir: str | Path | None = None) -> dict[str, Callable | Unavailable]:
    """Library metrics (LPIPS, FID, KID, DISTS, CLIP-I, DINO) that can run offline from local weights.

    Nothing is ever downloaded: a metric whose package or weight file is missing is returned as
    :class:`Unavailable` with the exact reason. Weight files are looked for (recursively) in
    ``weights_dir``:

    - LPIPS: package ``lpips`` (needs torchvision) + its ``alex.pth``/``vgg.pth`` linear layers and the
      torchvision backbone weights.
    - FID / KID: ``torchmetrics`` + ``torch-fidelity`` + the FID Inception weights
      ``pt_inception-2015-12-05-*.pth``.
    - DISTS: package ``DISTS_pytorch`` (needs torchvision) + ``weights.pt``.
    - CLIP-I / DINO: ``transformers`` + a local model folder (``clip*/config.json``, ``dino*/config.json``).

    Available metrics are callables ``f(list_a, list_b) -> float`` over lists of (H, W, 3) uint8 images.

    Returns
    -------
    dict str -> callable or Unavailable
    """
    wd = Path(weights_dir) if weights_dir is not None else None
    out: dict[str, Callable | Unavailable] = {}
    no_dir = "no weights directory given" if wd is None else (
        f"weights directory {wd} does not exist" if not wd.is_dir() else "")
    tv = _has("torchvision")

    # LPIPS
    if not _has("lpips"):
        out["lpips"] = Unavailable("package 'lpips' is not installed (lpips 0.1.4 requires torchvision"
                                   + ("" if tv else ", which is not installed either") + ")")
    elif not tv:
        out["lpips"] = Unavailable("package 'torchvision' is not installed (lpips needs its backbones)")
    else:
        w = _find_weight(wd, ["alex.pth", "vgg.pth"])
        out["lpips"] = Unavailable(no_dir or f"no LPIPS linear-layer weights (alex.pth/vgg.pth) under {wd}") \
            if w is None else _lpips_metric(w)
    # FID / KID
    missing = [p for p in ("torchmetrics", "torch_fidelity") if not _has(p)]
    if missing:
        for name in ("fid", "kid"):
            out[name] = Unavailable(f"package(s) {', '.join(repr(p) for p in missing)} not installed "
                                    "(torch-fidelity 0.4.0 requires torchvision)")
    else:
        w = _find_weight(wd, ["pt_inception-2015-12-05*.pth"])
        for name in ("fid", "kid"):
            out[name] = Unavailable(no_dir or f"no FID Inception weights (pt_inception-2015-12-05-*.pth) "
                                    f"under {wd}") if w is None else _fid_kid_metric(name, w)
    # DISTS
    if not _has("DISTS_pytorch"):
        out["dists"] = Unavailable("package 'DISTS_pytorch' is not installed (it requires torchvision)")
    else:
        w = _find_weight(wd, ["weights.pt"])
        out["dists"] = Unavailable(no_dir or f"no DISTS weights.pt under {wd}") if w is None else \
            Unavailable("DISTS weights found but the adapter is not implemented yet")
    # CLIP-I / DINO
    for name, pat in (("clip_i", "clip*"), ("dino", "dino*")):
        if not _has("transformers"):
            out[name] = Unavailable("package 'transformers' is not installed")
            continue
        d = _find_weight(wd, [f"{pat}/config.json"])
        out[name] = Unavailable(no_dir or f"no local model folder matching {pat}/config.json under {wd}") \
            if d is None else _embedding_metric(d.parent)
    return out


def _lpips_metric(weight: Path) -> Callable:  # pragma: no cover - needs lpips + torchvision + weights
    def f(list_a: Sequence[np.ndarray], list_b: Sequence[np.ndarray]) -> float:
        import lpips
        import torch

        net = lpips.LPIPS(net="alex" if "alex" in weight.name else "vgg", pretrained=True,
                          model_path=str(weight), pnet_rand=False, verbose=False)
        vals = []
        with torch.no_grad():
            for a, b in zip(list_a, list_b):
                ta = torch.from_numpy(np.asarray(a)).permute(2, 0, 1)[None].float() / 127.5 - 1
                tb = torch.from_numpy(np.asarray(b)).permute(2, 0, 1)[None].float() / 127.5 - 1
                vals.append(float(net(ta, tb)))
        return float(np.mean(vals))
    return f


def _fid_kid_metric(name: str, weight: Path) -> Callable:  # pragma: no cover - needs torch-fidelity weights
    def f(list_a: Sequence[np.ndarray], list_b: Sequence[np.ndarray]) -> float:
        import torch
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance

        fi = str(weight)
        m = (FrechetInceptionDistance(feature_extractor_weights_path=fi) if name == "fid"
             else KernelInceptionDistance(feature_extractor_weights_path=fi, subset_size=min(50, len(list_a))))
        to = lambda L: torch.from_numpy(np.stack(L)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
        m.update(to(list_b), real=True)
        m.update(to(list_a), real=False)
        r = m.compute()
        return float(r[0] if isinstance(r, tuple) else r)
    return f


def _embedding_metric(model_dir: Path) -> Callable:  # pragma: no cover - needs transformers + local model
    def f(list_a: Sequence[np.ndarray], list_b: Sequence[np.ndarray]) -> float:
        import torch
        from transformers import AutoImageProcessor, AutoModel

        proc = AutoImageProcessor.from_pretrained(model_dir, local_files_only=True)
        model = AutoModel.from_pretrained(model_dir, local_files_only=True, use_safetensors=True).eval()

        def emb(L: Sequence[np.ndarray]) -> torch.Tensor:
            x = proc(images=list(L), return_tensors="pt")
            with torch.no_grad():
                if hasattr(model, "get_image_features"):
                    e = model.get_image_features(**x)
                else:
                    e = model(**x).last_hidden_state[:, 0]
            return torch.nn.functional.normalize(e, dim=-1)
        return float((emb(list_a) * emb(list_b)).sum(-1).mean())
    return f
