"""Training configs: what a YAML file under ``configs/`` holds."""

from __future__ import annotations

from dataclasses import dataclass, field

from keyvid.config import choices
from keyvid.data.augment import AugmentConfig
from keyvid.data.sequence_augment import KeypointAugmentConfig
from keyvid.models.classifier import ActionClassifierConfig
from keyvid.models.motion import Stage2ModelConfig
from keyvid.models.stage1 import Stage1ModelConfig


@dataclass
class DataConfig:
    root: str = "data/synth"  # a prepared dataset (keyvid data synth / prepare)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    num_workers: int = 2  # DataLoader worker processes; 0 loads in the training process


@dataclass
class Stage1LossConfig:
    # "vgg": VGG-19 perceptual loss (paper Eq. for L_Q,T), needs ImageNet weights
    # (vgg_weights or $KEYVID_VGG19_WEIGHTS); "vgg_random" / "pixel": offline substitutes.
    reconstruction: str = choices("vgg", "vgg_random", "pixel", default="vgg")
    vgg_weights: str | None = None
    reconstruction_weight: float = 1.0  # λ1 (paper Sec. 3.2)
    adversarial_weight: float = 1.0  # weight of -log D_im(v̂) (paper: 1); 0 drops D_im
    # Not in the paper (0 there): L1 between D_im's features of v̂ and of the real target
    # at every layer and scale (pix2pixHD: 10); detail without VGG weights. Needs D_im.
    feature_matching_weight: float = 0.0
    # Not in the paper (0 there): also reconstruct the target from s alone. Early in
    # training the mask learns to copy the reference everywhere (m -> 1), which cuts the
    # gradient to s and so to the keypoints; this term keeps that path open.
    synthesized_weight: float = 0.0
    # Not in the paper (0 there): keypoints must follow a random rotation/scale/shift
    # of the image (Thewlis et al. 2017), a detector-only signal that needs no translator.
    equivariance_weight: float = 0.0
    # Not in the paper (0 there): L1 on the pixels where target and reference differ,
    # so that copying the reference is not a cheap optimum when the moving parts are small.
    motion_weight: float = 0.0
    # Not in the paper (0 there): keypoints of one image repel each other within
    # separation_sigma (Zhang et al. 2018), so they spread from the torso to the limbs.
    separation_weight: float = 0.0
    separation_sigma: float = 0.1
    # Not in the paper (0 there): L1 between the images' spatial derivatives, on every
    # image the reconstruction term compares, so thin limbs count by outline, not area.
    gradient_weight: float = 0.0


@dataclass
class OptimConfig:
    batch_size: int = 32  # paper Sec. 3.2 (the authors' released config uses 16)
    lr: float = 1e-4  # Adam (paper Sec. 3.2)
    betas: tuple[float, float] = (0.5, 0.999)  # paper Sec. 3.2
    lr_decay: float = 0.95  # lr × 0.95 ...
    lr_decay_every: int = 20000  # ... every 20k iterations (paper Sec. 3.2)
    # Not in the paper (none there): steps at which lr is further multiplied by
    # lr_milestone_factor, to settle the keypoints at the end of a short run.
    lr_milestones: tuple[int, ...] = ()
    lr_milestone_factor: float = 0.1
    steps: int = 200000
    seed: int = 0
    device: str = "auto"  # "auto" (CUDA if available), "cpu", "cuda", "cuda:1", ...
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default
    # Speed switches (issue 8; measured effects in benchmarks/results/train_speed.json).
    # fp32 resumes bit-exactly; bf16 autocasts (CPU, GPU); fp16 scales the loss (GPU).
    precision: str = choices("fp32", "bf16", "fp16", default="fp32")
    channels_last: bool = False  # NHWC convolutions
    compile: bool = False  # torch.compile the trained networks (eager where it fails)


@dataclass
class LogConfig:
    log_every: int = 50  # scalars to metrics.jsonl / TensorBoard
    sample_every: int = 1000  # image grids (paper Fig. 8 layout)
    eval_every: int = 1000  # keypoint regression error when the data has joints; 0 = never
    eval_train_frames: int = 3000  # frames used to fit / test the regression during training
    eval_test_frames: int = 1500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    tensorboard: bool = True


@dataclass
class Stage1Config:
    # Not in the paper: start from a stage-1 checkpoint's weights (tensors of another
    # shape, e.g. the mask channel of a translator trained without one, start fresh), and
    # optionally keep its detector fixed, so that a translator can be retrained for the
    # keypoints (and pseudo-labels) a finished run already has.
    init_from: str | None = None
    freeze_detector: bool = False
    data: DataConfig = field(default_factory=DataConfig)
    model: Stage1ModelConfig = field(default_factory=Stage1ModelConfig)
    loss: Stage1LossConfig = field(default_factory=Stage1LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    log: LogConfig = field(default_factory=LogConfig)


@dataclass
class Stage2DataConfig:
    root: str = "data/synth"  # a prepared dataset with pseudo-labels
    keypoints: str = "stage1"  # pseudo-label set (keyvid extract-keypoints --name)
    augment: KeypointAugmentConfig = field(default_factory=KeypointAugmentConfig)


@dataclass
class Stage2LossConfig:
    kl_weight: float = 1.0  # paper Eq. 5
    # Not in the paper (0 there): the KL weight rises linearly from 0 over these steps
    # (Bowman et al. 2016). At full weight from step 0 the decoder learns to ignore z
    # before z carries anything (posterior collapse, docs/stage2-motion.md).
    kl_warmup_steps: int = 0
    l1_weight: float = 1000.0  # λ2 (paper Sec. 3.2)
    adversarial_weight: float = 2.0  # λ3 (paper Sec. 3.2); 0 drops D_seq
    # Not in the paper (which judges reconstructions only): D_seq also judges sequences
    # decoded from z drawn from the prior, i.e. what inference produces (SAVP, Lee et
    # al. 2018). Without it a prior sample may settle for the average, small motion.
    # On the synthetic data it moves the keypoints further but away from the data
    # (docs/stage2-motion.md), so it is off in every config.
    prior_adversarial: bool = False
    # The diffusion generator's L_vel weight against its position term (MDM: 1).
    # kl_*, l1_weight and adversarial_weight are the cVAE's; diffusion does not read them.
    velocity_weight: float = 1.0


@dataclass
class Stage2Config:
    # The stage-1 checkpoint whose detector made the pseudo-labels: recorded so that
    # an exported model pairs this motion generator with that detector and translator.
    stage1: str = "synth"
    data: Stage2DataConfig = field(default_factory=Stage2DataConfig)
    model: Stage2ModelConfig = field(default_factory=Stage2ModelConfig)
    loss: Stage2LossConfig = field(default_factory=Stage2LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    log: LogConfig = field(default_factory=LogConfig)


@dataclass
class ClassifierDataConfig:
    root: str = "data/synth"  # a prepared dataset with action labels (train + test splits)
    # The whole clip gets one draw (frames move together); blur is in the list so that
    # the evaluator does not judge a generated video by its sharpness alone.
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    num_workers: int = 1


@dataclass
class ClassifierConfig:
    """The in-domain evaluator (issue 6): a video action classifier on real videos."""

    data: ClassifierDataConfig = field(default_factory=ClassifierDataConfig)
    model: ActionClassifierConfig = field(default_factory=ActionClassifierConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    log: LogConfig = field(default_factory=LogConfig)
