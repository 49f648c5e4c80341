"""FVD against TATS's reference code: I3D logits and the Fréchet distance, golden values.

``golden/i3d_tats_logits.json`` holds numbers computed once by songweige/TATS's own
``tats/fvd/pytorch_i3d.py`` and ``tats/fvd/fvd.py`` (``preprocess``, ``frechet_distance``)
from the seeded weights and inputs built below; ``golden/README.md`` says exactly how.
TATS's code is not in this repository, only its outputs. The weights are random (the
real ``i3d_pretrained_400.pt`` cannot ship here), but in the key format of that file and
scaled so that every layer carries signal: any difference in padding, pooling, batch
norm, preprocessing or the temporal mean between keyvid and TATS moves the logits far
beyond float32 rounding.

Everything is drawn with ``torch.rand``/``torch.randint`` from seeded CPU generators
(integer and uniform draws, no transcendental functions), so the test rebuilds the same
weights and videos bit for bit on any x86 CPU. The reference logits were computed in
float64; keyvid runs in float32, hence the tolerance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from keyvid.metrics.fvd import fvd, i3d_features, load_i3d
from keyvid.models.i3d import InceptionI3d

GOLDEN = Path(__file__).parent / "golden" / "i3d_tats_logits.json"
WEIGHT_SEED = 2018  # FVD's year
VIDEO_SEED = 400
FEATURE_SEED = 224

# (videos, frames, height, width) of each batch: upsampled and downsampled to 224×224;
# 10 frames leave one time step after the average pool, 17 leave two (the temporal mean).
VIDEO_BATCHES = ((2, 10, 36, 48), (1, 17, 256, 240))
# (real, generated) feature counts for the distance: full-rank and rank-deficient (few
# videos, as in small evaluations) covariances of the 400 logits.
FEATURE_SETS = ((600, 500), (16, 12))
NUM_FEATURES = 400

# float32 against the float64 reference, on any CPU: logits within 1e-4 of the logits'
# largest magnitude (measured: 3.6e-7 of it here, see golden/README.md).
LOGIT_TOLERANCE = 1e-4
# Relative tolerance of each distance of FEATURE_SETS. Full rank: float64 rounding
# (measured 1e-12). Rank-deficient: the square roots of the ~1e-13 eigenvalues that
# should be 0 add rounding noise of about 3e-8 (thread-count dependent; scipy's sqrtm is
# off by 6e-8 there), TATS's SVD zeroes them.
FRECHET_TOLERANCE = (1e-9, 1e-6)


def _uniform(gen: torch.Generator, shape: torch.Size, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=gen)


def golden_state_dict() -> dict[str, torch.Tensor]:
    """Seeded weights in the key format of TATS's ``i3d_pretrained_400.pt``.

    Keys drawn in sorted order from one generator: He-uniform convolutions (variance
    2/fan_in, so ReLU stacks neither vanish nor explode), batch-norm scales of one (as
    in the converted TF file), small biases and running means, running variances in
    [0.75, 1.25). No ``num_batches_tracked``, like the real file.
    """
    shapes = {
        key: value.shape
        for key, value in InceptionI3d().state_dict().items()
        if not key.endswith("num_batches_tracked")
    }
    gen = torch.Generator().manual_seed(WEIGHT_SEED)
    state = {}
    for key in sorted(shapes):
        shape = shapes[key]
        if key.endswith("conv3d.weight"):
            bound = math.sqrt(6 / math.prod(shape[1:]))
            state[key] = _uniform(gen, shape, -bound, bound)
        elif key.endswith("bn.weight"):
            state[key] = torch.ones(shape)
        elif key.endswith("running_var"):
            state[key] = _uniform(gen, shape, 0.75, 1.25)
        else:  # bn.bias, bn.running_mean, logits.conv3d.bias
            state[key] = _uniform(gen, shape, -0.1, 0.1)
    return state


def golden_videos() -> list[torch.Tensor]:
    """Seeded uint8 videos (N, T, 3, H, W), one tensor per batch of ``VIDEO_BATCHES``."""
    gen = torch.Generator().manual_seed(VIDEO_SEED)
    return [
        torch.randint(0, 256, (n, t, 3, h, w), generator=gen, dtype=torch.uint8)
        for n, t, h, w in VIDEO_BATCHES
    ]


def golden_features() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Seeded float64 (real, generated) feature pairs of ``FEATURE_SETS``: correlated
    dimensions (uniform noise times a random mixing matrix, about the spread of I3D
    logits), the generated ones scaled and shifted away from the real ones."""
    gen = torch.Generator().manual_seed(FEATURE_SEED)
    pairs = []
    for n_real, n_fake in FEATURE_SETS:
        mix = 2 * torch.rand(NUM_FEATURES, NUM_FEATURES, generator=gen, dtype=torch.float64) - 1
        real = torch.rand(n_real, NUM_FEATURES, generator=gen, dtype=torch.float64) @ mix
        noise = torch.rand(n_fake, NUM_FEATURES, generator=gen, dtype=torch.float64)
        pairs.append((real, 1.5 * noise @ mix + 0.5))
    return pairs


@pytest.fixture(scope="module")
def golden() -> dict:
    data = json.loads(GOLDEN.read_text())
    # The seeds and shapes here must be those the numbers were made from.
    assert (data["weight_seed"], data["video_seed"], data["feature_seed"]) == (
        WEIGHT_SEED,
        VIDEO_SEED,
        FEATURE_SEED,
    ), "the seeds changed: regenerate golden/i3d_tats_logits.json (golden/README.md)"
    assert [tuple(b) for b in data["video_batches"]] == list(VIDEO_BATCHES)
    assert [tuple(s) for s in data["feature_sets"]] == list(FEATURE_SETS)
    return data


def test_i3d_logits_match_tats(golden, tmp_path: Path):
    """Loaded from a file as ``keyvid evaluate`` loads it and fed uint8 videos of other
    sizes, keyvid's preprocessing + I3D give TATS's ``preprocess`` + ``InceptionI3d``
    logits: the FVD features are the same function."""
    path = tmp_path / "i3d_pretrained_400.pt"
    torch.save(golden_state_dict(), path)
    model = load_i3d(path)
    ours = torch.cat([i3d_features(model, v, batch_size=8) for v in golden_videos()])
    reference = torch.tensor(golden["logits"], dtype=torch.float64)
    scale = reference.abs().max().item()
    torch.testing.assert_close(ours, reference, rtol=0, atol=LOGIT_TOLERANCE * scale)


def test_the_golden_logits_tell_videos_apart(golden):
    """The check has teeth: the videos' logits differ from each other, and are spread
    over the classes, by far more than the tolerance."""
    logits = torch.tensor(golden["logits"], dtype=torch.float64)
    tolerance = LOGIT_TOLERANCE * logits.abs().max().item()
    assert torch.isfinite(logits).all()
    assert (logits.std(dim=1) > 1000 * tolerance).all()
    for i in range(len(logits)):
        for j in range(i):
            assert (logits[i] - logits[j]).abs().max() > 100 * tolerance


def test_frechet_distance_matches_tats(golden):
    """keyvid's FVD formula (eigendecompositions) gives TATS's ``frechet_distance``
    (SVD square roots, TF-GAN style) on full-rank and on rank-deficient covariances."""
    cases = zip(golden_features(), golden["frechet_distances"], FRECHET_TOLERANCE, strict=True)
    for (real, fake), expected, rel in cases:
        assert fvd(real, fake) == pytest.approx(expected, rel=rel)
