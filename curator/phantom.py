"""Deterministic synthetic chest-CT phantoms for the demo and for tests.

Real MosMedData studies cannot be shipped with the repository, so the demo dataset and the test suite are
built from phantoms generated here.  A phantom is a small chest CT in Hounsfield units that looks like an
axial chest CT in a lung window: air around a body ellipse with a subcutaneous fat rim, two lungs with a
faint vessel texture that shrink towards the apex and the diaphragm domes, mediastinal fat with heart,
aorta, trachea and oesophagus, a vertebra, sternum, ribs and (upper slices) scapulae, and a scanner table.

COVID-19 lesions are placed only inside the lungs according to the MosMed category of the spec (CT-0 none,
CT-1 to CT-4 an increasing share of the lung): soft-edged ground-glass opacities, plus consolidations from
CT-3 on.  They favour the periphery, the posterior and the lower parts of the lungs as the real disease
does.  The binary mask returned with the volume is 1 exactly on the voxels a lesion was placed on.

Everything is a pure function of the :class:`PhantomSpec`: the same spec always yields identical arrays, and
:func:`curator.io.nifti_writer.write_nifti` (re-exported here) writes byte-identical ``.nii.gz`` files
for identical input (no time stamp or file name in the gzip header), which keeps generated releases and their
checksums reproducible.

The anatomy is laid out in coordinates normalised to the field of view, so a 512x512 phantom shows the same
chest as a 96x96 one, only sampled more finely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from curator.io.nifti_writer import write_nifti

__all__ = [
    "PhantomSpec",
    "affected_fraction",
    "make_phantom",
    "phantom_affine",
    "write_nifti",
]

F32 = npt.NDArray[np.float32]
Bool2D = npt.NDArray[np.bool_]

# Hounsfield units of the tissues.
HU_AIR: Final = -1000.0
HU_FAT: Final = -100.0
HU_MEDIASTINAL_FAT: Final = -85.0
HU_SOFT_TISSUE: Final = 40.0
HU_LIVER: Final = 55.0
HU_LUNG: Final = -860.0
HU_CORTICAL_BONE: Final = 700.0
HU_CANCELLOUS_BONE: Final = 260.0
HU_TABLE: Final = 150.0
HU_MIN: Final = -1024
HU_MAX: Final = 3071
NOISE_SIGMA_HU: Final = 15.0

#: Share of the total lung volume covered by lesions, drawn uniformly per study from these bands.  They sit
#: inside the bands the categories are defined by (CT-1 5-20 %, CT-2 25-45 %, CT-3 50-70 %, CT-4 > 75 %).
FRACTION_BANDS: Final[dict[int, tuple[float, float]]] = {
    0: (0.0, 0.0),
    1: (0.08, 0.17),
    2: (0.29, 0.41),
    3: (0.54, 0.66),
    4: (0.80, 0.92),
}

@dataclass(frozen=True)
class PhantomSpec:
    """Everything a phantom depends on.

    ``shape`` and ``spacing`` are in (x, y, z) order, spacing in mm; ``category`` is the MosMed category
    (0 = CT-0 no lesions .. 4 = CT-4 more than 75 % of the lung affected); ``sex`` changes the body shape a
    little (``"M"``: wider shoulders and chest, thinner fat rim; ``"F"``: thicker fat rim and breasts).
    """

    seed: int
    category: int
    shape: tuple[int, int, int] = (96, 96, 24)
    spacing: tuple[float, float, float] = (3.2, 3.2, 8.0)
    sex: str = "F"

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if isinstance(self.category, bool) or self.category not in FRACTION_BANDS:
            raise ValueError(f"category must be one of 0..4, got {self.category!r}")
        if len(self.shape) != 3 or any(isinstance(n, bool) or not isinstance(n, int | np.integer) for n in self.shape):
            raise ValueError(f"shape must be three integers, got {self.shape!r}")
        if self.shape[0] < 16 or self.shape[1] < 16 or self.shape[2] < 1:
            raise ValueError(f"shape must be at least (16, 16, 1), got {self.shape!r}")
        if len(self.spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in self.spacing):
            raise ValueError(f"spacing must be three positive finite numbers, got {self.spacing!r}")
        if self.sex not in ("M", "F"):
            raise ValueError(f"sex must be 'M' or 'F', got {self.sex!r}")


# ----------------------------------------------------------------------------------------------------------
# Small geometry helpers


def _smoothstep(edge0: float, edge1: float, x: float) -> float:
    s = min(max((x - edge0) / (edge1 - edge0), 0.0), 1.0)
    return s * s * (3.0 - 2.0 * s)


def _bump(t: float, centre: float, half_width: float) -> float:
    """Ellipsoidal profile: 1 at ``centre``, 0 at ``centre +- half_width`` and beyond."""
    q = 1.0 - ((t - centre) / half_width) ** 2
    return math.sqrt(q) if q > 0.0 else 0.0


class _Canvas:
    """One axial slice being painted; ``u``/``v`` are the normalised x (patient left +) and y (anterior +)."""

    def __init__(self, u: F32, v: F32, hu: F32, lung: Bool2D) -> None:
        self.u = u
        self.v = v
        self.hu = hu
        self.lung = lung

    def region(
        self, cx: float, cy: float, a: float, b: float, power: float = 2.0, angle: float = 0.0
    ) -> tuple[tuple[slice, slice], Bool2D] | None:
        """Bounding box and in-box mask of the (super)ellipse ``|du/a|^p + |dv/b|^p <= 1``.

        ``angle`` (radians, counter-clockwise from the +u axis) rotates the ``a`` axis of the ellipse.
        """
        if a <= 0.0 or b <= 0.0:
            return None
        reach_u, reach_v = (a, b) if angle == 0.0 else (max(a, b), max(a, b))
        du = (self.u - np.float32(cx)) / np.float32(reach_u)
        dv = (self.v - np.float32(cy)) / np.float32(reach_v)
        iu = np.flatnonzero(np.abs(du) <= 1.0)
        iv = np.flatnonzero(np.abs(dv) <= 1.0)
        if iu.size == 0 or iv.size == 0:
            return None
        box = (slice(int(iu[0]), int(iu[-1]) + 1), slice(int(iv[0]), int(iv[-1]) + 1))
        p = np.float32(power)
        if angle == 0.0:
            inside = (np.abs(du[box[0], None]) ** p + np.abs(dv[None, box[1]]) ** p) <= 1.0
            return box, inside
        cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
        x = (self.u[box[0], None] - np.float32(cx)).astype(np.float32)
        y = (self.v[None, box[1]] - np.float32(cy)).astype(np.float32)
        along = (x * cos + y * sin) / np.float32(a)
        across = (y * cos - x * sin) / np.float32(b)
        inside = (np.abs(along) ** p + np.abs(across) ** p) <= 1.0
        return box, inside

    def ellipse(
        self,
        cx: float,
        cy: float,
        a: float,
        b: float,
        value: float,
        *,
        power: float = 2.0,
        angle: float = 0.0,
        is_lung: bool = False,
    ) -> None:
        """Paint a filled ellipse; it removes lung there unless ``is_lung`` (then it becomes lung)."""
        found = self.region(cx, cy, a, b, power, angle)
        if found is None:
            return
        box, inside = found
        self.hu[box][inside] = value
        self.lung[box][inside] = is_lung

    def shell(
        self,
        cx: float,
        cy: float,
        a: float,
        b: float,
        wall: float,
        outer: float,
        inner: float,
        angle: float = 0.0,
    ) -> None:
        """Filled ellipse with a wall of thickness ``wall`` (e.g. cortical bone around cancellous bone)."""
        self.ellipse(cx, cy, a, b, outer, angle=angle)
        self.ellipse(cx, cy, a - wall, b - wall, inner, angle=angle)


# ----------------------------------------------------------------------------------------------------------
# Smooth random fields (separable Gaussian radial-basis synthesis; no scipy needed)


def _rbf_matrix(positions: F32, n_centres: int, lo: float, hi: float) -> F32:
    """(len(positions), n_centres) Gaussian weights of evenly spaced centres on [lo, hi]."""
    centres = np.linspace(lo, hi, n_centres, dtype=np.float32)
    sigma = np.float32((hi - lo) / max(n_centres - 1, 1))
    d = (positions[:, None] - centres[None, :]) / sigma
    out: F32 = np.exp(np.float32(-0.5) * d * d).astype(np.float32)
    return out


def _smooth_field_2d(rng: np.random.Generator, u: F32, v: F32, nz: int, n_centres: int) -> F32:
    """Independent smooth 2-D random field per slice, shape (nz, nx, ny), zero mean, unit variance."""
    wu = _rbf_matrix(u, n_centres, -1.1, 1.1)
    wv = _rbf_matrix(v, n_centres, -1.1, 1.1)
    coarse = rng.standard_normal((nz, n_centres, n_centres), dtype=np.float32)
    tmp = np.matmul(wu[None, :, :], coarse)  # (nz, nx, G)
    field: F32 = np.matmul(tmp, wv.T[None, :, :])  # (nz, nx, ny)
    return _normalise(field)


def _smooth_field_3d(rng: np.random.Generator, u: F32, v: F32, t: F32, n_plane: int, n_z: int) -> F32:
    """Smooth 3-D random field, shape (nz, nx, ny), zero mean, unit variance."""
    wu = _rbf_matrix(u, n_plane, -1.1, 1.1)
    wv = _rbf_matrix(v, n_plane, -1.1, 1.1)
    wt = _rbf_matrix(t, n_z, -0.1, 1.1)
    coarse = rng.standard_normal((n_z, n_plane, n_plane), dtype=np.float32)
    zc = np.tensordot(wt, coarse, axes=(1, 0))  # (nz, G, G)
    tmp = np.matmul(wu[None, :, :], zc)  # (nz, nx, G)
    field: F32 = np.matmul(tmp, wv.T[None, :, :])  # (nz, nx, ny)
    return _normalise(field)


def _normalise(field: F32) -> F32:
    """Shift and scale ``field`` in place to zero mean and unit variance (estimated on a sub-grid)."""
    step = max(1, min(field.shape[1], field.shape[2]) // 64)
    sample = field[:, ::step, ::step]
    mean = float(sample.mean(dtype=np.float64))
    std = float(sample.std(dtype=np.float64))
    field -= np.float32(mean)
    if std > 0.0:
        field *= np.float32(1.0 / std)
    return field


# ----------------------------------------------------------------------------------------------------------
# Anatomy


@dataclass(frozen=True)
class _Body:
    """Per-study anatomical parameters (normalised units)."""

    male: bool
    body_a: float
    body_b: float
    body_cy: float
    fat_rim: float
    lung_scale: float
    heart_dx: float
    rib_phase: float


def _draw_body(rng: np.random.Generator, male: bool) -> _Body:
    jitter_body = float(rng.uniform(0.96, 1.03))
    return _Body(
        male=male,
        body_a=(0.84 if male else 0.78) * jitter_body,
        body_b=(0.60 if male else 0.56) * jitter_body,
        body_cy=-0.05,
        fat_rim=(0.04 if male else 0.06) * float(rng.uniform(0.8, 1.25)),
        lung_scale=float(rng.uniform(0.96, 1.04)) * jitter_body,
        heart_dx=float(rng.uniform(-0.03, 0.03)),
        rib_phase=float(rng.uniform(0.0, 1.0)),
    )


def _lung_centres(body: _Body) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
    """(cx, cy, a, b) of the right (patient right = negative u) and left lung at their widest level."""
    s = 0.95 * body.lung_scale
    w = 1.05 if body.male else 1.0
    right = (-0.35 * s * w, -0.035, 0.27 * s * w, 0.40 * s)
    left = (0.36 * s * w, -0.035, 0.25 * s * w, 0.39 * s)
    return right, left


def _lung_profile(t: float) -> float:
    """Cross-section scale of the lungs at normalised height ``t`` (0 = caudal, 1 = cranial)."""
    return math.pow(_bump(t, 0.40, 0.62), 0.45)


_Torso = tuple[float, float, float, float]   # one slice's body outline: half-axes a (left-right), b, centre cy, fat rim


def _paint_slice(c: _Canvas, body: _Body, t: float) -> None:
    """Paint one axial slice at normalised height ``t`` (0 = bottom/caudal, 1 = top/cranial)."""
    c.hu.fill(HU_AIR)
    c.lung.fill(False)
    shoulders = (0.10 if body.male else 0.04) * _smoothstep(0.72, 1.0, t)
    torso = (min(body.body_a * (1.0 + shoulders), 0.96), body.body_b * (1.0 - 0.5 * shoulders), body.body_cy,
             body.fat_rim)
    _paint_body(c, body, torso, t)
    _paint_lungs(c, body, t)
    _paint_mediastinum(c, body, t)
    _paint_bones(c, body, torso, t)


def _paint_body(c: _Canvas, body: _Body, torso: _Torso, t: float) -> None:
    """The scanner table, the breasts (female), the body's fat, muscle and soft tissue, and the scapulae."""
    a, b, cy, rim = torso
    bottom = cy - b
    # Scanner table below the patient: a slightly concave cushion on a board.
    bend = 2.0
    c.ellipse(0.0, bottom + bend, 3.0, bend + 0.115, HU_TABLE)  # board
    c.ellipse(0.0, bottom + bend, 3.0, bend + 0.085, -350.0)  # cushion
    c.ellipse(0.0, bottom + bend, 3.0, bend + 0.03, HU_AIR)
    # Breasts (female), then body: subcutaneous fat rim around muscle / soft tissue.
    if not body.male:
        bw = _bump(t, 0.50, 0.30)
        if bw > 0.0:
            for sign in (-1.0, 1.0):
                c.ellipse(sign * 0.34 * a / 0.78, cy + 0.80 * b, 0.22 * bw, 0.17 * bw, HU_FAT)
                c.ellipse(sign * 0.34 * a / 0.78, cy + 0.84 * b, 0.11 * bw, 0.08 * bw, 5.0)
    c.ellipse(0.0, cy, a, b, HU_FAT, power=2.4)
    c.ellipse(0.0, cy, a - rim, b - rim, HU_SOFT_TISSUE, power=2.4)
    # Intermuscular fat line between chest-wall muscles and the rib cage.
    c.ellipse(0.0, cy, a - rim - 0.05, b - rim - 0.035, -60.0, power=2.3)
    c.ellipse(0.0, cy, a - rim - 0.06, b - rim - 0.045, HU_SOFT_TISSUE, power=2.3)
    # Scapulae in the upper chest, behind the rib cage.
    sw = _smoothstep(0.55, 0.8, t)
    if sw > 0.0:
        for sign in (-1.0, 1.0):
            c.shell(sign * 0.52 * a / 0.8, cy - 0.70 * b, 0.14 * sw, 0.026, 0.01, 550.0, 250.0, angle=sign * 0.45)


def _paint_lungs(c: _Canvas, body: _Body, t: float) -> None:
    """The lungs and, below them, the diaphragm domes."""
    prof = _lung_profile(t)
    right, left = _lung_centres(body)
    for lcx, lcy, la, lb in (right, left):
        # Towards the apex the lungs move slightly posterior and medial.
        apex = _smoothstep(0.6, 1.0, t)
        c.ellipse(lcx * (1.0 - 0.15 * apex), lcy - 0.08 * apex, la * prof, lb * prof, HU_LUNG, is_lung=True)
    # Diaphragm domes: liver under the right lung, spleen / stomach under the left one.
    r_dome = 0.50 * _bump(t, 0.0, 0.29)
    if r_dome > 0.0:
        c.ellipse(right[0] + 0.03, right[1] + 0.04, r_dome, r_dome * 0.85, HU_LIVER)
    l_dome = 0.42 * _bump(t, 0.0, 0.23)
    if l_dome > 0.0:
        c.ellipse(left[0], left[1] + 0.02, l_dome, l_dome * 0.85, 45.0)
        c.ellipse(left[0] + 0.02, left[1] + 0.14, 0.35 * l_dome, 0.22 * l_dome, -990.0)  # gastric gas


def _paint_mediastinum(c: _Canvas, body: _Body, t: float) -> None:
    """The mediastinum: fat with the great vessels, heart, airways and oesophagus."""
    hx = 0.08 + body.heart_dx
    heart = _bump(t, 0.30, 0.32)
    med_a = 0.13 + 0.06 * _smoothstep(0.45, 0.2, t)
    c.ellipse(0.02, 0.12, med_a, 0.36 * _smoothstep(0.0, 0.25, t), HU_MEDIASTINAL_FAT)
    if heart > 0.0:
        ha, hb = 0.31 * heart, 0.23 * heart
        c.ellipse(hx, 0.12, ha + 0.02, hb + 0.02, HU_MEDIASTINAL_FAT, angle=0.5)  # epicardial fat
        c.ellipse(hx, 0.12, ha, hb, HU_SOFT_TISSUE, angle=0.5)
    desc_top = 0.80
    if t < desc_top:
        c.ellipse(0.09, -0.19, 0.055, 0.055, 45.0)  # descending aorta
    if 0.50 < t < 0.80:
        c.ellipse(0.02, 0.16, 0.06, 0.06, 45.0)  # ascending aorta
        c.ellipse(-0.06, 0.10, 0.05, 0.045, 40.0)  # superior vena cava
    if 0.78 <= t < 0.86:
        c.ellipse(0.05, -0.02, 0.07, 0.20, 45.0)  # aortic arch
    if t >= 0.86:
        for vx in (-0.05, 0.05, 0.10):
            c.ellipse(vx, 0.10, 0.028, 0.028, 45.0)  # supra-aortic vessels
    if t >= 0.62:
        c.ellipse(0.0, 0.0, 0.055, 0.05, 30.0)
        c.ellipse(0.0, 0.0, 0.045, 0.04, HU_AIR)  # trachea
    elif t >= 0.48:
        for sign in (-1.0, 1.0):
            c.ellipse(sign * 0.09, -0.01, 0.04, 0.035, 30.0)
            c.ellipse(sign * 0.09, -0.01, 0.03, 0.025, HU_AIR)  # main bronchi
    c.ellipse(-0.01 if t > 0.5 else 0.04, -0.13, 0.03, 0.025, 35.0)  # oesophagus


def _paint_bones(c: _Canvas, body: _Body, torso: _Torso, t: float) -> None:
    """The spine with its muscles, the sternum and the ribs."""
    a, b, cy, rim = torso
    # Spine: vertebral body, posterior elements, spinal canal; paraspinal muscles around them.
    vy = cy - 0.47 * b / 0.56 * 0.56
    c.ellipse(0.0, vy - 0.12, 0.22, 0.14, HU_SOFT_TISSUE)  # paraspinal muscles
    c.shell(0.0, vy, 0.095, 0.085, 0.018, HU_CORTICAL_BONE, HU_CANCELLOUS_BONE)
    c.ellipse(0.0, vy - 0.14, 0.085, 0.075, 520.0)  # lamina / pedicles
    c.ellipse(0.0, vy - 0.225, 0.022, 0.09, 520.0)  # spinous process
    c.ellipse(0.0, vy - 0.135, 0.045, 0.045, 25.0)  # spinal canal
    for sign in (-1.0, 1.0):
        c.ellipse(sign * 0.11, vy - 0.10, 0.05, 0.025, 520.0)  # transverse processes
    # Sternum (anterior), present over most of the chest.
    if 0.25 < t < 0.95:
        sy = cy + b - rim - 0.07
        c.shell(0.0, sy, 0.075, 0.03, 0.012, 550.0, 180.0)

    # Ribs: oval cross-sections on the rib cage, skipping the spine and sternum.
    cage_a = a - rim - 0.06
    cage_b = b - rim - 0.05
    n_ribs = 9
    for i in range(n_ribs):
        frac = (i + (body.rib_phase + 2.5 * t) % 1.0) / n_ribs
        for sign in (-1.0, 1.0):
            ang = math.pi * (-0.40 + 0.85 * frac)  # from posterior (near spine) to anterior
            if abs(ang - math.pi / 2) < 0.15:
                continue
            x = sign * cage_a * math.cos(ang) * (1.0 if ang < 0 else 0.97)
            y = cy + cage_b * math.sin(ang)
            tangent = math.atan2(cage_b * math.cos(ang), -sign * cage_a * math.sin(ang))
            c.shell(x, y, 0.034, 0.02, 0.008, 650.0, 200.0, angle=tangent)


def _paint_anatomy(body: _Body, u: F32, v: F32, t: F32) -> tuple[F32, npt.NDArray[np.bool_]]:
    nx, ny, nz = u.size, v.size, t.size
    hu = np.empty((nz, nx, ny), dtype=np.float32)
    lung = np.empty((nz, nx, ny), dtype=np.bool_)
    for k in range(nz):
        _paint_slice(_Canvas(u, v, hu[k], lung[k]), body, float(t[k]))
    return hu, lung


def _add_vessels(
    rng: np.random.Generator, hu: F32, lung: npt.NDArray[np.bool_], u: F32, v: F32, t: F32, body: _Body
) -> None:
    """Vessel-like texture inside the lungs.

    Vessels radiate from each hilum as tapering, slightly wavy branches that split once on the way out; the
    peripheral ones cut across the slice and appear as small dots (peaks of a fine random field).
    """
    nz, nx, ny = hu.shape
    wiggle = _smooth_field_2d(rng, u, v, nz, 12)
    dots = _smooth_field_2d(rng, u, v, nz, 72)
    phases = rng.uniform(0.0, 2.0 * math.pi, size=(nz, 2, 2)).astype(np.float32)
    right, left = _lung_centres(body)
    idx = np.flatnonzero(lung)
    plane = idx % (nx * ny)
    iz = idx // (nx * ny)
    uu = u[plane // ny]
    vv = v[plane % ny]
    is_left = uu > 0
    hx = np.where(is_left, np.float32(left[0] - 0.20), np.float32(right[0] + 0.20))
    hy = np.float32(0.0)
    du = uu - hx
    dv = vv - hy
    r = np.sqrt(du * du + dv * dv)
    theta = np.arctan2(dv, du) + np.float32(0.22) * wiggle.reshape(-1)[idx]
    side = is_left.astype(np.intp)
    vessel = np.zeros(idx.size, dtype=np.float32)
    # Hilar vessels are most prominent at mid-chest level.
    level_amp = np.array([0.3 + 0.7 * _bump(float(x), 0.5, 0.3) for x in t], dtype=np.float32)[iz]
    for level, (n_branch, w0, reach) in enumerate(((5, 0.026, 0.45), (10, 0.013, 0.6))):
        spacing = np.float32(2.0 * math.pi / n_branch)
        phi = theta + phases[iz, side, level]
        dtheta = np.abs(np.remainder(phi + spacing / 2, spacing) - spacing / 2)
        width = np.float32(w0) * np.clip(np.float32(1.0) - r / np.float32(reach), 0.0, 1.0)
        if level == 1:
            width *= (r > np.float32(0.18)).astype(np.float32)
        line = np.exp(-(((r * dtheta) / (width + np.float32(1e-6))) ** 2))
        np.maximum(vessel, line * level_amp * np.float32(600.0 - 250.0 * level), out=vessel)
    d = dots.reshape(-1)[idx]
    dot_hu = np.clip((d - np.float32(1.9)) / np.float32(0.5), 0.0, 1.0) * np.float32(450.0)
    hu.reshape(-1)[idx] += np.maximum(vessel, dot_hu)


# ----------------------------------------------------------------------------------------------------------
# Lesions


def affected_fraction(spec: PhantomSpec) -> float:
    """Share of the lung volume that :func:`make_phantom` covers with lesions for ``spec`` (cheap, no volume).

    The phantom hits it to within one voxel of the lung volume; it is 0.0 for CT-0.
    """
    lo, hi = FRACTION_BANDS[spec.category]
    if hi <= 0.0:
        return 0.0
    rng = np.random.default_rng([int(spec.seed), 0x4C45534E, spec.category])
    return float(rng.uniform(lo, hi))


def _add_lesions(
    rng: np.random.Generator,
    spec: PhantomSpec,
    hu: F32,
    lung: npt.NDArray[np.bool_],
    u: F32,
    v: F32,
    t: F32,
    body: _Body,
) -> npt.NDArray[np.uint8]:
    """Place GGOs (and consolidations from CT-3) on the requested share of the lung; return the mask."""
    mask = np.zeros(hu.shape, dtype=np.uint8)
    big = _smooth_field_3d(rng, u, v, t, 11, 7)
    medium = _smooth_field_3d(rng, u, v, t, 24, 12)
    ggo_hu = float(rng.uniform(-500.0, -380.0))
    cons_hu = float(rng.uniform(-40.0, 30.0))
    cons_share = float(rng.uniform(0.15, 0.25) if spec.category == 3 else rng.uniform(0.25, 0.38))
    fraction = affected_fraction(spec)
    idx = np.flatnonzero(lung)
    n_lung = idx.size
    n_lesion = round(fraction * n_lung)
    if n_lesion == 0:
        return mask

    # Preference for peripheral, posterior and basal lung (typical COVID-19 distribution).
    right, left = _lung_centres(body)
    _, nx, ny = hu.shape
    plane = idx % (nx * ny)
    ix = plane // ny
    iy = plane % ny
    iz = idx // (nx * ny)
    uu = u[ix]
    vv = v[iy]
    tt = t[iz]
    prof = np.array([max(_lung_profile(float(x)), 0.05) for x in t], dtype=np.float32)[iz]
    ra = np.where(uu < 0, np.float32(right[2]), np.float32(left[2])) * prof
    rb = np.where(uu < 0, np.float32(right[3]), np.float32(left[3])) * prof
    rcx = np.where(uu < 0, np.float32(right[0]), np.float32(left[0]))
    radial = np.sqrt(((uu - rcx) / ra) ** 2 + ((vv - np.float32(right[1])) / rb) ** 2)
    score = (
        big.reshape(-1)[idx]
        + np.float32(0.45) * medium.reshape(-1)[idx]
        + np.float32(0.9) * np.minimum(radial, np.float32(1.2)) ** 2
        - np.float32(0.9) * vv
        - np.float32(0.5) * tt
    )
    del big
    order = np.argpartition(score, n_lung - n_lesion)
    chosen = order[n_lung - n_lesion :]
    s = score[chosen]
    threshold = s.min()
    spread = float(score.std()) or 1.0
    edge = np.clip((s - threshold) / np.float32(0.45 * spread), 0.0, 1.0)
    # Soft edge: from faint haze at the border to the full GGO density inside, with a little texture.
    target = np.float32(ggo_hu) + np.float32(45.0) * medium.reshape(-1)[idx[chosen]]
    lesion = np.float32(HU_LUNG) + (target - np.float32(HU_LUNG)) * (np.float32(0.3) + np.float32(0.7) * edge)
    if spec.category >= 3:
        n_cons = max(round(cons_share * n_lesion), 1)
        cons_threshold = np.partition(s, n_lesion - n_cons)[n_lesion - n_cons]
        w = np.clip((s - cons_threshold) / np.float32(0.25 * spread), 0.0, 1.0)
        lesion += (np.float32(cons_hu) - lesion) * w
    flat = hu.reshape(-1)
    where = idx[chosen]
    flat[where] = np.maximum(flat[where], lesion)
    mask.reshape(-1)[where] = 1
    return mask


# ----------------------------------------------------------------------------------------------------------
# Public API


def _grids(spec: PhantomSpec) -> tuple[F32, F32, F32]:
    nx, ny, nz = spec.shape
    sx, sy, _ = spec.spacing
    half_fov = max(nx * sx, ny * sy) / 2.0
    u = ((np.arange(nx, dtype=np.float32) - np.float32((nx - 1) / 2)) * np.float32(sx / half_fov)).astype(np.float32)
    v = ((np.arange(ny, dtype=np.float32) - np.float32((ny - 1) / 2)) * np.float32(sy / half_fov)).astype(np.float32)
    t = np.linspace(0.0, 1.0, nz, dtype=np.float32) if nz > 1 else np.full(1, 0.5, dtype=np.float32)
    return u, v, t


def make_phantom(spec: PhantomSpec) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.uint8]]:
    """Return (volume int16 in HU, lesion mask uint8 {0,1}) on the same (x, y, z) grid of ``spec.shape``.

    Array axis 0 runs to the patient's left, axis 1 anteriorly and axis 2 cranially, matching
    :func:`phantom_affine` (LAS).  Deterministic in ``spec``.
    """
    rng = np.random.default_rng(int(spec.seed))
    u, v, t = _grids(spec)
    body = _draw_body(rng, spec.sex == "M")
    hu, lung = _paint_anatomy(body, u, v, t)
    _add_vessels(rng, hu, lung, u, v, t, body)
    if spec.category > 0:
        mask = _add_lesions(rng, spec, hu, lung, u, v, t, body)
    else:
        mask = np.zeros(hu.shape, dtype=np.uint8)
    del lung
    noise = rng.standard_normal(hu.shape, dtype=np.float32)
    noise *= np.float32(NOISE_SIGMA_HU)
    hu += noise
    del noise
    np.rint(hu, out=hu)
    np.clip(hu, HU_MIN, HU_MAX, out=hu)
    nx, ny, nz = spec.shape
    volume = np.empty((nx, ny, nz), dtype=np.int16)
    np.copyto(volume, hu.transpose(1, 2, 0), casting="unsafe")
    del hu
    return volume, np.ascontiguousarray(mask.transpose(1, 2, 0))


def phantom_affine(spec: PhantomSpec) -> npt.NDArray[np.float64]:
    """4x4 RAS affine like the real MosMed files: LAS orientation, ``diag(-sx, sy, sz)``.

    The volume centre lies at x = 0, y = +15 mm (a typical table-height offset) and z = -150 mm, so for the
    default shape the slices span roughly -242..-58 mm.
    """
    nx, ny, nz = spec.shape
    sx, sy, sz = (float(s) for s in spec.spacing)
    affine = np.diag([-sx, sy, sz, 1.0]).astype(np.float64)
    affine[0, 3] = (nx - 1) / 2.0 * sx
    affine[1, 3] = 15.0 - (ny - 1) / 2.0 * sy
    affine[2, 3] = -150.0 - (nz - 1) / 2.0 * sz
    return affine
