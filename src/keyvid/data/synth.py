"""Procedural synthetic action videos: articulated 2D actors over cluttered backgrounds.

Each video shows one actor with the 13-joint Penn Action skeleton performing one of
the 9 classes of :data:`keyvid.data.actions.PENN_ACTIONS`. Poses come from a
kinematic tree driven by absolute limb angles interpolated through per-action
keyframes; limbs are anti-aliased tapered capsules with textures in the limb's own
coordinates, composited far-to-near over a static background with distractors.
Each part is rasterised for all T frames at once as a signed distance over a
(T, h, w) window that follows it.
Ground-truth joints use the :mod:`keyvid.coords` convention.

Left/right follow a person facing the camera: ``left_*`` joints are on the image
right of the unmirrored frontal actor. Mirroring flips x and swaps the labels, so a
mirrored actor stays anatomically consistent (it becomes left-handed).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np

from keyvid.coords import to_normalized
from keyvid.data.actions import PENN_ACTIONS
from keyvid.data.skeleton import NUM_JOINTS

# Pose vector: root x/y offset (body units), then absolute angles in degrees where
# 0 points down, 90 to image right, 180 up; SW is the shoulder/hip width factor
# (1 = facing the camera, ~0.4 = profile).
RX, RY, TORSO, SW, LUA, LFA, RUA, RFA, LTH, LSH, RTH, RSH = range(12)
_ANGLES = [TORSO, LUA, LFA, RUA, RFA, LTH, LSH, RTH, RSH]

# Keyframes per action, equally spaced over one cycle (interpolated periodically), and
# options: pin "feet" (lowest foot on the ground) or "hands" (hanging from a bar); grip =
# hand spacing when both hands hold one implement ("fixed": hands stay put on a bar).
# Columns: rx ry torso sw | l_upper l_fore r_upper r_fore | l_thigh l_shin r_thigh r_shin
# fmt: off
_ACTIONS: dict[str, dict] = {
    "tennis_serve": dict(pin="feet", tool=("racket", RFA), keys=[
        [0, 0, 180, 0.5, 25, 70, 10, 40, 8, 0, -8, 0],  # ready, ball held forward
        [0, 0, 190, 0.4, 165, 172, -95, -50, 25, -15, -5, -10],  # toss, racket back
        [0, 0, 200, 0.4, 150, 160, 165, 20, 35, -20, -5, -15],  # racket drops behind head
        [0, 0.03, 175, 0.6, 70, 40, 180, 185, 5, 0, -5, 0],  # reach up, contact
        [0, 0, 145, 0.6, 15, 10, 50, 25, 25, 0, -25, -30]]),  # follow through across
    "pull_ups": dict(pin="hands", grip="fixed", tool=("bar", None), keys=[
        [0, 0, 180, 1.0, 165, 170, -165, -170, 8, -5, -8, 5],  # hanging, arms straight
        [0, 0, 180, 1.0, 70, 215, -70, -215, 15, -25, -15, 25]]),  # chin over the bar
    "clean_and_jerk": dict(pin="feet", grip=0.55, tool=("barbell", None), keys=[
        [0, 0, 180, 1.0, 12, 5, -12, -5, 30, 0, -30, 0],  # bar at hips, knees out
        [0, 0, 180, 1.0, 35, 175, -35, -175, 40, -5, -40, 5],  # clean to shoulders, dip
        [0, 0, 180, 1.0, 30, 170, -30, -170, 10, 0, -10, 0],  # stand, bar on shoulders
        [0, 0, 180, 1.0, 160, 175, -160, -175, 25, 0, -25, 0],  # jerk overhead, split
        [0, 0, 180, 1.0, 165, 178, -165, -178, 10, 0, -10, 0]]),  # hold overhead
    "tennis_forehand": dict(pin="feet", tool=("racket", RFA), keys=[
        [0, 0, 180, 0.9, 25, 60, -25, -60, 20, 10, -20, -10],  # ready
        [0, 0, 178, 0.5, 60, 100, -85, -110, 25, 10, -15, -10],  # backswing to the side
        [0, 0, 180, 0.9, 30, 10, -35, 30, 20, 10, -20, -10],  # contact in front
        [0, 0, 182, 0.5, 30, -20, 135, 215, 15, 10, -25, -10]]),  # over the other shoulder
    "baseball_pitch": dict(pin="feet", keys=[
        [0, 0, 180, 0.4, 15, 140, 10, 140, 3, 0, -3, 0],  # set, hands at chest
        [0, 0, 185, 0.4, 20, 135, 15, 140, 95, 10, -3, 0],  # leg lift
        [0, 0, 195, 0.5, 80, 85, -100, -160, 50, 10, -35, -30],  # stride, arm back
        [0, 0, 160, 0.6, 20, -20, 150, 115, 55, 5, -40, -60],  # release over the top
        [0, 0, 125, 0.5, 10, -10, 35, 10, 45, 0, -70, -110]]),  # follow through
    "jumping_jacks": dict(pin="feet", keys=[
        [0, 0, 180, 1.0, 12, 8, -12, -8, 4, 4, -4, -4],  # together, arms down
        [0, 0.06, 180, 1.0, 95, 100, -95, -100, 14, 14, -14, -14],  # jumping, arms out
        [0, 0, 180, 1.0, 165, 175, -165, -175, 24, 24, -24, -24],  # apart, arms overhead
        [0, 0.06, 180, 1.0, 95, 100, -95, -100, 14, 14, -14, -14]]),
    "golf_swing": dict(pin="feet", grip=0.04, tool=("club", LFA), keys=[
        [0, 0, 180, 1.0, 10, -5, -10, 5, 18, 10, -18, -10],  # address, hands low
        [0, 0, 180, 0.7, -50, -120, -90, -160, 16, 10, -20, -10],  # backswing, hands high
        [0, 0, 180, 1.0, 10, -5, -10, 5, 18, 10, -18, -10],  # impact
        [0, 0, 180, 0.7, 90, 160, 50, 120, 20, 10, -16, -10]]),  # follow through high
    "squats": dict(pin="feet", keys=[
        [0, 0, 178, 0.4, 85, 90, 95, 90, 0, 0, 0, 0],  # standing, arms forward
        [0, 0, 150, 0.4, 80, 85, 88, 85, 60, -15, 58, -15],  # halfway
        [0, 0, 140, 0.4, 75, 85, 80, 85, 95, -28, 93, -28],  # deep squat
        [0, 0, 150, 0.4, 80, 85, 88, 85, 60, -15, 58, -15]]),
    "baseball_swing": dict(pin="feet", grip=0.04, tool=("bat", LFA), keys=[
        [0, 0, 182, 0.5, -40, -150, -60, -160, 15, 0, -25, -15],  # stance, hands up at back
        [0, 0, 180, 0.6, -20, 20, -70, -50, 40, -10, -25, -15],  # stride, bat comes down
        [0, 0, 178, 1.0, 60, 80, 20, 80, 25, 0, -30, -20],  # contact, arms extended
        [0, 0, 176, 0.5, 120, 190, 80, 170, 20, 0, -20, 15]]),  # follow through high
}
# Implements: (length, grip radius, end radius) in body units; bars are horizontal.
_TOOLS = {"racket": (0.30, 0.012, 0.05), "club": (0.42, 0.01, 0.022), "bat": (0.3, 0.014, 0.03),
          "barbell": (0.7, 0.018, 0.018), "bar": (1.0, 0.014, 0.014)}
# fmt: on
assert tuple(_ACTIONS) == PENN_ACTIONS
SHIRT, SKIN, TROUSERS, TOOL = range(4)


def _interp_cycle(keys: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Periodic Catmull-Rom through (K, D) keyframes at phases (T,) in cycles -> (T, D)."""
    k = len(keys)
    x = phase * k
    i = np.floor(x).astype(int)
    f = (x - i)[:, None]
    p0, p1, p2, p3 = (keys[(i + o) % k] for o in (-1, 0, 1, 2))
    return 0.5 * (
        2 * p1
        + (p2 - p0) * f
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * f**2
        + (3 * p1 - p0 - 3 * p2 + p3) * f**3
    )


def _dir(deg: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 2) in y-up body space: 0 deg points down, 90 deg right."""
    rad = np.deg2rad(deg)
    return np.stack([np.sin(rad), -np.cos(rad)], axis=-1)


def _sample_body(rng: np.random.Generator) -> dict[str, float]:
    """Random proportions in units of standing height (limbs chunky for 64 px)."""
    u = rng.uniform
    return dict(
        torso=u(0.27, 0.33), neck=u(0.07, 0.09), head_r=u(0.055, 0.075),
        shoulder=u(0.08, 0.12), hip=u(0.05, 0.075),
        upper_arm=u(0.15, 0.19), forearm=u(0.14, 0.17), thigh=u(0.22, 0.26), shin=u(0.21, 0.25),
        arm_w=u(0.035, 0.05), leg_w=u(0.045, 0.065), torso_w=u(1.0, 1.3),
    )  # fmt: skip


def _ik(shoulder: np.ndarray, target: np.ndarray, l1: float, l2: float, bend: np.ndarray):
    """Two-link arm reaching ``target`` (T, 2); ``bend`` (T,) = +-1 elbow side -> elbow, wrist."""
    delta = target - shoulder
    dist = np.linalg.norm(delta, axis=-1, keepdims=True)
    reach = np.clip(dist, abs(l1 - l2) + 1e-3, l1 + l2 - 1e-4)
    unit = delta / np.maximum(dist, 1e-6)
    cos_a = np.clip((l1**2 + reach**2 - l2**2) / (2 * l1 * reach), -1.0, 1.0)
    sin_a = np.sqrt(1 - cos_a**2) * bend[:, None]
    rotated = np.stack([unit[:, 0] * cos_a[:, 0] - unit[:, 1] * sin_a[:, 0],
                        unit[:, 0] * sin_a[:, 0] + unit[:, 1] * cos_a[:, 0]], -1)  # fmt: skip
    elbow = shoulder + l1 * rotated
    return elbow, elbow + l2 * (target - elbow) / np.linalg.norm(target - elbow, axis=-1)[:, None]


def _pose_joints(spec: dict, pose: np.ndarray, body: dict) -> np.ndarray:
    """Forward kinematics: (T, 12) pose -> (T, 17, 2) joints in y-up body units."""
    t = len(pose)
    j = np.zeros((t, 17, 2))
    up = _dir(pose[:, TORSO])
    left = np.stack([up[:, 1], -up[:, 0]], -1)  # actor's left = image right when frontal
    sw = pose[:, SW, None]
    j[:, 13] = 0.0  # pelvis at the origin, translated below
    j[:, 14] = body["torso"] * up
    j[:, 0] = j[:, 14] + body["neck"] * up
    for side, (sh, hip, ua, fa, th, sn) in ((1, (1, 7, LUA, LFA, LTH, LSH)),
                                             (-1, (2, 8, RUA, RFA, RTH, RSH))):  # fmt: skip
        j[:, sh] = j[:, 14] + side * sw * body["shoulder"] * left
        j[:, sh + 2] = j[:, sh] + body["upper_arm"] * _dir(pose[:, ua])
        j[:, sh + 4] = j[:, sh + 2] + body["forearm"] * _dir(pose[:, fa])
        j[:, hip] = side * sw * body["hip"] * left
        j[:, hip + 2] = j[:, hip] + body["thigh"] * _dir(pose[:, th])
        j[:, hip + 4] = j[:, hip + 2] + body["shin"] * _dir(pose[:, sn])
    if spec.get("grip") is not None:
        _apply_grip(spec["grip"], pose, j, body)
    _pin(spec["pin"], pose, j)
    _place_tool(spec.get("tool"), j)
    return j


def _apply_grip(grip, pose: np.ndarray, j: np.ndarray, body: dict) -> None:
    """Re-solve both arms by IK so the hands hold one implement (or a fixed bar)."""
    wrists = j[:, [5, 6]]  # (T, 2 hands, 2 xy)
    if grip == "fixed":  # pull-up bar: hands keep their spacing, the body moves
        targets = wrists.copy()
        targets[..., 0] = wrists[:1, :, 0]
    else:
        mid = wrists.mean(1, keepdims=True)
        targets = mid + np.array([[[grip / 2, 0.0], [-grip / 2, 0.0]]])
    for k, (sh, ua, fa) in enumerate(((1, LUA, LFA), (2, RUA, RFA))):
        bend = np.sign(np.sin(np.deg2rad(pose[:, fa] - pose[:, ua])) + 1e-6)
        l1, l2 = body["upper_arm"], body["forearm"]
        j[:, sh + 2], j[:, sh + 4] = _ik(j[:, sh], targets[:, k], l1, l2, -bend)


def _pin(pin: str, pose: np.ndarray, j: np.ndarray) -> None:
    """Translate each frame so the lowest foot (or the hands) stays put, plus the keyed offset."""
    if pin == "hands":
        anchor = j[:, [5, 6]].mean(1) - j[:1, [5, 6]].mean(1)
    else:
        anchor = np.stack([j[:, [11, 12], 0].mean(1), j[:, [11, 12], 1].min(1)], -1)
    j -= anchor[:, None]
    j += pose[:, None, [RX, RY]]


def _place_tool(tool: tuple | None, j: np.ndarray) -> None:
    """Tool ends (joints 15, 16): along the holding forearm, or a bar through both hands."""
    if tool is None:
        j[:, 15:17] = j[:, 13:14]  # unused: at the pelvis so it does not widen the bbox
        return
    length = _TOOLS[tool[0]][0]
    if tool[0] in ("barbell", "bar"):
        mid = j[:, [5, 6]].mean(1)
        half = np.array([length / 2, 0.0])
        j[:, 15], j[:, 16] = mid - half, mid + half
        return
    wrist, elbow = (5, 3) if tool[1] == LFA else (6, 4)
    forearm = j[:, wrist] - j[:, elbow]
    j[:, 15] = j[:, wrist]
    j[:, 16] = j[:, wrist] + length * forearm / np.linalg.norm(forearm, axis=-1, keepdims=True)


def _random_pose(spec: dict, rng: np.random.Generator, frames: int) -> np.ndarray:
    """(T, 12) pose track with random speed, phase, amplitude and per-actor angle offsets."""
    keys = np.array(spec["keys"], dtype=np.float64)
    cycles = rng.uniform(0.8, 2.0) * frames / 40  # about 20-50 frames per cycle
    phase = rng.uniform() + cycles * np.arange(frames) / frames
    mean = keys.mean(0)
    amp = rng.uniform(0.75, 1.1)  # smaller or bigger movements around the mean pose
    keys[:, _ANGLES] = mean[_ANGLES] + amp * (keys[:, _ANGLES] - mean[_ANGLES])
    keys[:, _ANGLES] += rng.normal(0, 4, len(_ANGLES))
    return _interp_cycle(keys, phase)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    """One HSV colour (all in [0, 1]) -> RGB (3,)."""
    k = (np.array([5.0, 3.0, 1.0]) + h * 6) % 6
    return v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return _hsv(rng.uniform(), rng.uniform(0.2, 0.95), rng.uniform(0.2, 0.95))


def _sample_palette(rng: np.random.Generator, avoid: np.ndarray) -> np.ndarray:
    """(4, 3) shirt, skin, trousers, tool colours, usually far from the background mean."""
    for _ in range(12 if rng.uniform() < 0.9 else 1):  # 10% of actors may blend in
        skin = _hsv(rng.uniform(0.02, 0.1), rng.uniform(0.25, 0.6), rng.uniform(0.3, 0.95))
        shirt, trousers = _random_colour(rng), _random_colour(rng)
        if rng.uniform() < 0.4:  # jeans / dark trousers are common
            trousers = _hsv(rng.uniform(0.55, 0.65), rng.uniform(0.2, 0.7), rng.uniform(0.15, 0.5))
        palette = np.stack([shirt, skin, trousers, _random_colour(rng)])
        if np.abs(palette[:3] - avoid).sum(-1).min() > 0.6:  # L1 RGB distance
            break
    return palette


def _sample_texture(rng: np.random.Generator, scale: float) -> np.ndarray:
    """(5,) garment texture: frequency along (per px), across (per half-width), phase,
    contrast, check frequency. Plain, bands around the limb, stripes along it, or checks."""
    along = 2 * np.pi / max(rng.uniform(0.04, 0.1) * scale, 3.5)  # >= 3.5 px: no aliasing
    across = np.pi * rng.integers(2, 4)
    kind = rng.integers(4)
    return np.array([along * (kind == 1), across * (kind >= 2), rng.uniform(0, 6.3),
                     rng.uniform(0.15, 0.35) * (kind > 0), along * (kind == 3)])  # fmt: skip


def _draw(canvas: np.ndarray, a: np.ndarray, b: np.ndarray, radii: np.ndarray, frac: float,
          material: tuple, light: float = 0.0) -> None:  # fmt: skip
    """Paint one tapered rounded segment per frame onto ``canvas`` (T, H, W, 3) with "over".

    a, b: (T, 2) pixel ends; radii: (T, 2) half-widths at a and b; frac: corner rounding as a
    fraction of the half-width (1 = capsule, small = box-like torso); material: (rgb,
    texture or None).
    """
    index, alpha, u, vn = _segment(canvas.shape[:2], a, b, radii, frac)
    colour = _material(material, u, vn, light)
    patch = canvas[index]  # (T, h, w, 3)
    patch += alpha * (colour - patch)
    canvas[index] = patch


def _segment(shape: tuple[int, int], a: np.ndarray, b: np.ndarray, radii: np.ndarray,
             frac: float) -> tuple:  # fmt: skip
    """Coverage of one segment per frame of a (T, H, W) canvas: (index, alpha (T, h, w, 1),
    u along it, vn across it in [-1, 1]) over a per-frame window around the segment.

    Only that window is computed: limbs cover a few percent of the image, so this is ~10x
    less work than full-frame distances.
    """
    t, size = shape
    reach = radii.max() + 1.5
    lo = np.floor(np.minimum(a, b) - reach).astype(int)  # (T, 2)
    hi = np.ceil(np.maximum(a, b) + reach).astype(int)
    ext = np.minimum((hi - lo).max(0) + 1, size)  # window (w, h), same for every frame
    start = np.clip(lo, 0, size - ext)
    gx = start[:, :1] + np.arange(ext[0])  # (T, w) integer pixel columns
    gy = start[:, 1:] + np.arange(ext[1])  # (T, h)
    axis = b - a
    length = np.maximum(np.linalg.norm(axis, axis=-1), 1e-3)[:, None, None]  # (T, 1, 1)
    dx, dy = (axis[:, :, None, None] / length[:, None]).astype(np.float32).transpose(1, 0, 2, 3)
    px = (gx - a[:, :1]).astype(np.float32)[:, None, :]  # (T, 1, w)
    py = (gy - a[:, 1:]).astype(np.float32)[:, :, None]  # (T, h, 1)
    u = px * dx + py * dy  # (T, h, w) along the segment
    v = py * dx - px * dy  # (T, h, w) across it
    ra, rb = (radii[:, k, None, None].astype(np.float32) for k in (0, 1))
    width = ra + (rb - ra) * np.clip(u / length, 0, 1)
    rounding = frac * width
    qu = np.abs(u - length / 2) - length / 2
    qv = np.abs(v) - width + rounding
    dist = np.hypot(np.maximum(qu, 0), np.maximum(qv, 0)) + np.minimum(np.maximum(qu, qv), 0)
    alpha = np.clip(0.5 + rounding - dist, 0, 1)[..., None]  # 1-pixel anti-aliased edge
    vn = np.clip(v / np.maximum(width, 1e-3), -1, 1)
    index = (np.arange(t)[:, None, None], gy[:, :, None], gx[:, None, :])
    return index, alpha, u, vn


def _material(material: tuple, u: np.ndarray, vn: np.ndarray, light: float) -> np.ndarray:
    """Colour (T, h, w, 3) from local coordinates: cylinder shading x garment texture."""
    rgb, texture = material
    intensity = 1 + light * vn - 0.3 * vn * vn  # rounded limbs darken at the silhouette
    if texture is not None and texture[3] > 0:
        along, across, phase, contrast, check = texture
        wave = np.clip(2 * np.sin(u * along + vn * across + phase), -1, 1)  # soft square wave
        if check > 0:
            wave *= np.clip(2 * np.sin(u * check + phase), -1, 1)
        intensity *= 1 + contrast * wave
    return intensity[..., None] * np.asarray(rgb, dtype=np.float32)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(H, W, 3) gradient, low-frequency noise or stripes, under a soft lighting field."""
    lin = np.linspace(-1, 1, size, dtype=np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = lin[None, :] * np.cos(theta) + lin[:, None] * np.sin(theta)  # (H, W) in [-1.4, 1.4]
    c0, c1 = _random_colour(rng), _random_colour(rng)
    kind = rng.integers(3)
    if kind == 0:
        mix = np.clip(ramp * 0.5 + 0.5, 0, 1)[..., None]
    elif kind == 1:
        mix = _smooth_noise(rng, size, rng.integers(2, 8), channels=3) * 0.5 + 0.5
    else:  # stripes 5-16 px wide, softened so they do not alias
        period = rng.uniform(5, 16) * 2 / size
        wave = np.clip(2 * np.sin(ramp * np.pi / period + rng.uniform(0, 6.3)), -1, 1)
        mix = wave[..., None] * rng.uniform(0.15, 0.5) + 0.5
    light = 1 + 0.3 * _smooth_noise(rng, size, 3, channels=1)
    return np.clip((c0 + (c1 - c0) * mix) * light, 0, 1).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int) -> np.ndarray:
    """(H, W, C) random grid of ``cells`` x ``cells`` values in [-1, 1], smoothly upsampled."""
    grid = rng.uniform(-1, 1, (cells, cells, channels))
    pos = np.linspace(0, cells - 1, size)
    left = np.minimum(pos.astype(int), cells - 2) if cells > 1 else np.zeros(size, int)
    f = pos - left
    f = f * f * (3 - 2 * f)  # smoothstep: no visible grid creases
    interp = np.zeros((size, cells))  # (size, cells) separable interpolation matrix
    interp[np.arange(size), left] = 1 - f
    interp[np.arange(size), np.minimum(left + 1, cells - 1)] += f
    return np.einsum("yi,ijc,xj->yxc", interp, grid, interp)


def _add_distractors(rng: np.random.Generator, canvas: np.ndarray, palette: np.ndarray) -> None:
    """Static blobs, boxes and limb-like capsules (some in the actor's colours), in place."""
    size = canvas.shape[0]
    for _ in range(rng.integers(0, 6)):
        kind = rng.integers(3)  # 0 blob, 1 box, 2 limb-like capsule
        centre = rng.uniform(0, size - 1, 2)
        half = rng.uniform(0.03, 0.18) * size * (0.3 if kind == 0 else 1.0)
        axis = _dir(rng.uniform(0, 360)) * half
        radius = rng.uniform(0.02, 0.12) * size * (0.4 if kind == 2 else 1.0)
        radii = np.array([[radius, radius * rng.uniform(0.6, 1.0)]])  # (T=1, 2)
        colour = _random_colour(rng)
        if kind == 2 and rng.uniform() < 0.6:
            colour = np.clip(palette[rng.integers(3)] * rng.uniform(0.8, 1.2), 0, 1)
        _draw(canvas[None], (centre - axis)[None], (centre + axis)[None], radii,
              0.1 if kind == 1 else 1.0, (colour, None))  # fmt: skip


def _to_pixels(rng: np.random.Generator, j: np.ndarray, body: dict, size: int):
    """Scale y-up body units to pixels (y down) with random size, position and mirroring."""
    margin = max(body["head_r"], body["leg_w"]) + 0.03  # limb thickness around the joints
    lo, hi = j.reshape(-1, 2).min(0) - margin, j.reshape(-1, 2).max(0) + margin
    height = body["torso"] + body["neck"] + body["head_r"] + body["thigh"] + body["shin"]
    scale = rng.uniform(0.45, 0.85) * size / height
    scale = min(scale, (size - 2) / (hi - lo).max())  # shrink wide poses to stay inside
    offset = rng.uniform(0.5, np.maximum(size - 1.5 - (hi - lo) * scale, 0.5))
    px = np.stack([j[..., 0] - lo[0], hi[1] - j[..., 1]], -1) * scale + offset
    if rng.uniform() < 0.5:  # mirror, keeping left/right anatomically consistent
        px[..., 0] = size - 1 - px[..., 0]
        px[:, 1:13] = px[:, [2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11]]
    return px, scale


def _draw_actor(rng, canvas, spec, pose, body, px, scale, palette,
                implement: bool = False) -> np.ndarray | None:  # fmt: skip
    """Paint the actor's parts far-to-near: legs, torso, head, arms, implement. With
    ``implement``, returns the implement's coverage (T, H, W) in [0, 1] (it is drawn last,
    so nothing hides it), or None for an action without one."""
    sleeves, shorts = rng.uniform() < 0.35, rng.uniform() < 0.25
    textures = {SHIRT: _sample_texture(rng, scale), TROUSERS: _sample_texture(rng, scale)}
    light = rng.uniform(-0.25, 0.25)  # light from the left or the right
    arm, leg = body["arm_w"] * scale, body["leg_w"] * scale
    torso_w = body["torso_w"] * (0.55 + 0.45 * pose[:, SW])  # a profile torso is ~half as wide
    head_r = body["head_r"] * scale
    up = px[:, 0] - px[:, 14]
    up /= np.linalg.norm(up, axis=-1, keepdims=True)
    tool = _TOOLS[spec["tool"][0]] if spec.get("tool") else None
    # (joint a, joint b, half-widths at a and b, rounding, garment)
    parts = [(8, 10, (leg, leg * 0.85), 1, TROUSERS), (10, 12, (leg * 0.85, leg * 0.65), 1,
             SKIN if shorts else TROUSERS)]  # fmt: skip
    parts += [(a - 1, b - 1, w, r, g) for a, b, w, r, g in parts]  # left leg
    torso = np.stack([(body["hip"] + 0.035) * torso_w, body["shoulder"] * 0.95 * torso_w], -1)
    parts += [(13, 14, torso * scale, 0.35, SHIRT), ("head", None, (head_r, head_r), 1, SKIN)]
    for sh in (2, 1):  # right arm, then left arm in front
        forearm = SHIRT if sleeves else SKIN
        parts += [(sh, sh + 2, (arm, arm * 0.85), 1, SHIRT),
                  (sh + 2, sh + 4, (arm * 0.85, arm * 0.7), 1, forearm)]  # fmt: skip
    if tool is not None:
        parts.append((15, 16, np.array(tool[1:]) * scale, 1, TOOL))
    for ja, jb, widths, rounding, garment in parts:
        if ja == "head":  # a slightly tall disc around the head joint
            a, b = px[:, 0] - 0.15 * head_r * up, px[:, 0] + 0.15 * head_r * up
        else:
            a, b = px[:, ja], px[:, jb]
        radii = np.broadcast_to(np.asarray(widths, dtype=np.float64), (len(px), 2))
        _draw(canvas, a, b, radii, rounding, (palette[garment], textures.get(garment)), light)
    if tool is None or not implement:
        return None
    coverage = np.zeros(canvas.shape[:3], dtype=np.float32)  # (T, H, W)
    tool_radii = np.broadcast_to(np.array(tool[1:]) * scale, (len(px), 2))  # as drawn above
    index, alpha, _, _ = _segment(canvas.shape[:2], px[:, 15], px[:, 16], tool_radii, 1)
    coverage[index] = alpha[..., 0]
    return coverage


def _render(action: int, seed, size: int, frames: int, background: bool = True,
            implement: bool = False):  # fmt: skip
    """render_video with an optional plain black background (for tests), plus the
    implement's coverage (T, H, W) when asked for (else None)."""
    spec = _ACTIONS[PENN_ACTIONS[action]]
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rng = np.random.default_rng(seq)
    body = _sample_body(rng)
    pose = _random_pose(spec, rng, frames)
    px, scale = _to_pixels(rng, _pose_joints(spec, pose, body), body, size)
    bg = _background(rng, size)
    palette = _sample_palette(rng, bg.mean((0, 1)))
    _add_distractors(rng, bg, palette)
    canvas = np.repeat((bg if background else bg * 0)[None], frames, axis=0)  # (T, H, W, 3)
    coverage = _draw_actor(rng, canvas, spec, pose, body, px, scale, palette, implement)
    video = (canvas * 255 + 0.5).astype(np.uint8)
    return video, to_normalized(px[:, :NUM_JOINTS], (size, size)).astype(np.float32), coverage


def render_video(
    action: int, seed: int | np.random.SeedSequence, *, size: int = 64, frames: int = 40
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic video of class ``action`` (index into PENN_ACTIONS).

    Returns frames (T, size, size, 3) uint8 RGB and joints (T, 13, 2) float32 normalised
    (x, y) in the :mod:`keyvid.coords` convention. Same (action, seed) -> same bytes.
    """
    if not 0 <= action < len(PENN_ACTIONS):
        raise ValueError(f"action must be in [0, {len(PENN_ACTIONS)}), got {action}")
    return _render(action, seed, size, frames)[:2]


def implement_coverage(
    action: int, seed: int | np.random.SeedSequence, *, size: int = 64, frames: int = 40
) -> np.ndarray | None:
    """(T, size, size) float32 coverage in [0, 1] of the implement (racket, club, bat,
    barbell, bar) in :func:`render_video`'s video, or None for an action without one.

    For evaluation only (reconstruction error on thin held parts): training never reads it.
    """
    return _render(action, seed, size, frames, implement=True)[2]


def video_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
    """The randomness of video ``index`` of ``split``: disjoint across splits and seeds."""
    code = zlib.crc32(split.encode())  # stable across runs, unlike hash()
    return np.random.SeedSequence([seed, code, index])


def synth_videos(
    split: str, num_videos: int, *, seed: int = 0, size: int = 64, frames: int = 40
) -> Iterator[tuple[str, int, np.ndarray, np.ndarray]]:
    """Yield (video_id, action_index, frames, joints); video i has action i % 9.

    Each video's randomness comes from SeedSequence([seed, split code, i]), so splits
    draw disjoint actors and backgrounds and any video can be regenerated alone.
    """
    for i in range(num_videos):
        action = i % len(PENN_ACTIONS)
        video, joints = render_video(action, video_seed(seed, split, i), size=size, frames=frames)
        yield f"synth-{split}-{i:06d}", action, video, joints


def dataset_implement_coverage(data, video_index: int) -> np.ndarray | None:
    """(T, H, W) implement coverage of video ``video_index`` of a prepared synthetic split
    (``keyvid data synth``), regenerated from the seed its dataset.json records; None for a
    dataset that is not synthetic or an action without an implement. Evaluation only."""
    source = data.meta.get("source", {})
    if source.get("kind") != "synthetic":
        return None
    video = data.videos[video_index]
    index = int(video.id.rsplit("-", 1)[-1])  # synth-<split>-<index>, see synth_videos
    seed = video_seed(source["seed"], data.split, index)
    return implement_coverage(video.action, seed, size=data.meta["height"], frames=video.num_frames)
