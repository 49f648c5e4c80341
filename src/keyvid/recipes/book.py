"""The recipes: every chain of steps that makes a model, written down once.

``synth`` is exactly how the shipped ``synth``, ``synth-no-action`` and
``synth-classifier`` models are made; ``penn``, ``nemo``, ``mgif`` and ``folder`` prepare
a real dataset and train it with its config (the paper's settings for the first three).
``tiny=True`` keeps every step but shrinks data, networks and steps so that a whole chain
runs in a minute or two on a CPU: a check that the chain works, not a model to use.

Data splits of the synthetic recipe (docs/evaluation.md, "Splits"): seed 0 trains the
generator, seed 3 the classifier; seed 41 is the untouched test split, evaluated once per
shipped model. Seeds 7 (development) and 8 (validation) are where choices are made; no
recipe reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from keyvid.errors import KeyvidError
from keyvid.recipes.bundle import bundle_model, evaluate_bundle, extract_pseudo_labels
from keyvid.recipes.steps import CallStep, DataStep, Step, TrainStep

CONFIGS = Path(__file__).resolve().parents[3] / "configs"  # the repository's configs/

# The synthetic recipe's data seeds (see the module docstring).
SYNTH_TRAIN_SEED = 0
SYNTH_CLASSIFIER_SEED = 3
SYNTH_TEST_SEED = 41

# --tiny: a miniature of every network, a handful of steps. Valid for every config.
TINY_RUN = (  # 12 steps of batch 4, a checkpoint half-way (so that resuming is exercised)
    "optim.batch_size=4",
    "optim.steps=12",
    "log.log_every=4",
    "log.eval_every=0",
    "log.checkpoint_every=6",
    "log.tensorboard=false",
)
TINY_STAGE1 = (
    *TINY_RUN,
    "model.num_keypoints=8",
    "model.image_size=32",
    "model.detector.channels=4",
    "model.detector.num_down=2",
    "model.translator.channels=4",
    "model.translator.max_channels=8",
    "model.translator.feature_size=8",
    "model.translator.sigma=0.15",
    "model.translator.motion_channels=4",  # the warping translator's, when a config picks it
    "model.translator.motion_max_channels=8",
    "model.translator.motion_depth=2",
    "model.discriminator.channels=4",
    "model.discriminator.num_layers=3",
    "loss.reconstruction=pixel",
    "optim.lr_milestones=[]",
    "data.num_workers=0",
    "log.sample_every=0",
)
TINY_STAGE2 = (
    *TINY_RUN,
    "model.generator.hidden=8",
    "model.generator.latent=4",
    "model.generator.length=8",
    "model.discriminator.hidden=8",
    "loss.kl_warmup_steps=5",
    "model.generator.diffusion.width=8",  # the diffusion generator's, when a config picks it
    "model.generator.diffusion.depth=1",
    "model.generator.diffusion.heads=2",
    "model.generator.diffusion.timesteps=20",
    "model.generator.diffusion.sample_steps=4",
    "log.sample_every=0",
)
TINY_CLASSIFIER = (
    *TINY_RUN,
    "model.frames=6",
    "model.channels=4",
    "model.features=8",
    "optim.lr_milestones=[]",
    "data.num_workers=0",
)
TINY_SYNTH_VIDEOS = {"train": 18, "test": 9, "frames": 16}  # 2 / 1 per class, ≥ 9 frames


@dataclass(frozen=True)
class RecipeOptions:
    """What ``keyvid recipe`` was asked for (recorded in OUT/recipe.json and meta.json)."""

    name: str
    tiny: bool = False
    src: Path | None = None  # the source dataset of penn / nemo / mgif / folder


def recipe_steps(options: RecipeOptions) -> list[Step]:
    """The steps of the recipe ``options.name``, in order."""
    if options.name not in RECIPES:
        raise KeyvidError(f"unknown recipe {options.name!r}; choose one of {', '.join(RECIPES)}")
    if not CONFIGS.is_dir():
        raise KeyvidError(
            f"keyvid recipe reads the YAML files of a source checkout ({CONFIGS} is missing); "
            "clone the repository and install it with pip install -e ."
        )
    build, needs_src = RECIPES[options.name]
    if needs_src and options.src is None:
        raise KeyvidError(f"recipe {options.name} needs --src, the dataset to prepare")
    if not needs_src and options.src is not None:
        raise KeyvidError(f"recipe {options.name} makes its own data; drop --src")
    return build(options)


def synth(options: RecipeOptions) -> list[Step]:
    """The shipped synth models: data, stage 1 in three phases, pseudo-labels, stage 2 with
    and without the action (travel calibration happens at their checkpoints:
    ``calibrate_travel`` in configs/synth_stage2.yaml), the classifier, bundles, evaluation.
    The diffusion motion generator (configs/synth_diffusion_stage2.yaml) is trained, bundled and
    evaluated beside the cVAE on the same pseudo-labels (``model-diffusion``)."""
    tiny = options.tiny
    s1, s2, clf = (TINY_STAGE1, TINY_STAGE2, TINY_CLASSIFIER) if tiny else ((), (), ())

    def full_size(*overrides: str) -> tuple[str, ...]:  # the step counts of the real run
        return () if tiny else overrides

    data = (*data_root("{out}/data"), *s1)
    # Phases 2 and 3 relearn the translator with the background mask on the frozen
    # detector (docs/stage1-emergence.md): the keypoints, hence the pseudo-labels, stay.
    translator = (
        *data,
        "model.mask=true",
        "freeze_detector=true",
        "loss.equivariance_weight=0",
        "loss.separation_weight=0",
    )
    phase2 = (*translator, "init_from={out}/stage1-keypoints")
    phase3 = (*translator, "init_from={out}/stage1-translator", "log.eval_every=0")
    stage1, stage2, diffusion, classifier = (
        CONFIGS / f"synth{s}.yaml" for s in ("", "_stage2", "_diffusion_stage2", "_classifier")
    )
    motion = (*data_root("{out}/data"), "stage1={out}/stage1-translator-long", *s2)  # stage 2
    stage1_runs = ["stage1-keypoints", "stage1-translator", "stage1-translator-long"]
    return [
        synth_data("data", SYNTH_TRAIN_SEED, tiny, train=450, test=90),
        synth_data("test-data", SYNTH_TEST_SEED, tiny, train=450, test=450),
        synth_data("classifier-data", SYNTH_CLASSIFIER_SEED, tiny, train=2700, test=90),
        train("stage1-keypoints", "stage1", stage1, *data),
        train(
            "stage1-translator",
            "stage1",
            stage1,
            *phase2,
            *full_size("optim.steps=1500", "optim.lr_milestones=[1000]"),
        ),
        train(
            "stage1-translator-long",
            "stage1",
            stage1,
            *phase3,
            *full_size("optim.steps=3000", "optim.lr_milestones=[2000]"),
        ),
        pseudo_labels("stage1-translator-long"),
        train("stage2", "stage2", stage2, *motion),
        train("stage2-no-action", "stage2", stage2, *motion, "model.generator.action=false"),
        train("stage2-diffusion", "stage2", diffusion, *motion),
        train(
            "stage2-diffusion-no-action",
            "stage2",
            diffusion,
            *motion,
            "model.generator.action=false",
        ),
        train("classifier", "classifier", classifier, *data_root("{out}/classifier-data"), *clf),
        bundle("model", [*stage1_runs, "stage2"]),
        bundle("model-no-action", [*stage1_runs, "stage2-no-action"]),
        bundle("model-diffusion", [*stage1_runs, "stage2-diffusion"]),
        bundle("model-diffusion-no-action", [*stage1_runs, "stage2-diffusion-no-action"]),
        bundle("model-classifier", ["classifier"]),
        evaluation("test-data", classifier="model-classifier", no_action="model-no-action"),
        evaluation(
            "test-data",
            model="model-diffusion",
            classifier="model-classifier",
            no_action="model-diffusion-no-action",
        ),
    ]


def real_data(options: RecipeOptions, source: str, stage1: str, stage2: str) -> list[Step]:
    """A real dataset: prepare it, its configs' stage 1 and 2, bundle, evaluate its test split."""
    s1, s2 = (TINY_STAGE1, TINY_STAGE2) if options.tiny else ((), ())
    return [
        prepared_data(source, options),
        train("stage1", "stage1", CONFIGS / stage1, *data_root("{out}/data"), *s1),
        pseudo_labels("stage1"),
        train(
            "stage2",
            "stage2",
            CONFIGS / stage2,
            *data_root("{out}/data"),
            "stage1={out}/stage1",
            *s2,
        ),
        bundle("model", ["stage1", "stage2"]),
        evaluation("data"),
    ]


# --- step builders ---------------------------------------------------------------------


def data_root(folder: str) -> tuple[str]:
    return (f"data.root={folder}",)


def train(name: str, stage: str, config: Path, *overrides: str) -> TrainStep:
    """A training step; ``{out}`` in an override is the recipe folder (filled in by the runner)."""
    return TrainStep(name, stage, config, tuple(overrides))


def synth_data(name: str, seed: int, tiny: bool, *, train: int, test: int) -> DataStep:
    from keyvid.data.prepare import prepare_synthetic

    sizes = TINY_SYNTH_VIDEOS if tiny else {"train": train, "test": test, "frames": 40}
    facts = {"kind": "synthetic", "seed": seed, **sizes}
    flags = f"--seed {seed} --train {sizes['train']} --test {sizes['test']}"
    flags += f" --frames {sizes['frames']}"

    def make(folder: Path, progress: bool) -> None:
        prepare_synthetic(folder, seed=seed, progress=progress, **sizes)

    return DataStep(name, f"keyvid data synth {{out}}/{name} {flags}", make, facts)


def prepared_data(source: str, options: RecipeOptions) -> DataStep:
    """``keyvid data prepare SOURCE --src SRC --out OUT/data`` (nemo and mgif: the fomm layout)."""
    from keyvid.data import prepare_folder, prepare_fomm, prepare_penn

    prepare = {"penn": prepare_penn, "fomm": prepare_fomm, "folder": prepare_folder}[source]
    src = options.src

    def make(folder: Path, progress: bool) -> None:
        prepare(src, folder, progress=progress)

    facts = {"kind": source, "src": "SRC"}
    return DataStep(
        "data", f"keyvid data prepare {source} --src SRC --out {{out}}/data", make, facts
    )


def pseudo_labels(stage1: str) -> CallStep:
    command = f"keyvid extract-keypoints --checkpoint {{out}}/{stage1} --data {{out}}/data"
    return CallStep("pseudo-labels", command, partial(extract_pseudo_labels, stage1=stage1))


def bundle(name: str, trained_by: list[str]) -> CallStep:
    """Export the last of ``trained_by`` (with its stage 1 for a motion model) to OUT/<name>."""
    source, stage1 = trained_by[-1], None
    command = f"keyvid export {{out}}/{source} {{out}}/{name}"
    if source.startswith("stage2"):
        stage1 = next(s for s in reversed(trained_by) if s.startswith("stage1"))
        command += f" --stage1 {{out}}/{stage1}"
    call = partial(bundle_model, name=name, trained_by=tuple(trained_by), stage1=stage1)
    return CallStep(name, command, call)


def evaluation(
    data: str,
    *,
    model: str = "model",
    classifier: str | None = None,
    no_action: str | None = None,
) -> CallStep:
    """``keyvid evaluate`` of OUT/<model> into OUT/evaluation (OUT/evaluation-<suffix> for
    ``model-<suffix>``)."""
    name = "evaluation" + model.removeprefix("model")
    command = (
        f"keyvid evaluate --checkpoint {{out}}/{model} --data {{out}}/{data} --out {{out}}/{name}"
    )
    for flag, value in (("--classifier", classifier), ("--no-action", no_action)):
        if value is not None:
            command += f" {flag} {{out}}/{value}"
    call = partial(
        evaluate_bundle, data=data, model=model, out=name, classifier=classifier,
        no_action=no_action,
    )  # fmt: skip
    return CallStep(name, command, call)


# name -> (steps, whether it needs --src)
RECIPES: dict[str, tuple[Callable[[RecipeOptions], list[Step]], bool]] = {
    "synth": (synth, False),
    "penn": (lambda o: real_data(o, "penn", "penn.yaml", "penn_stage2.yaml"), True),
    "nemo": (lambda o: real_data(o, "fomm", "nemo.yaml", "nemo_stage2.yaml"), True),
    "mgif": (lambda o: real_data(o, "fomm", "mgif.yaml", "mgif_stage2.yaml"), True),
    "folder": (lambda o: real_data(o, "folder", "folder.yaml", "folder_stage2.yaml"), True),
}
