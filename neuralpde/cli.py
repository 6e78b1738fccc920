"""The ``neuralpde`` command line: parse arguments, call one library function."""

from __future__ import annotations

import argparse
import os
import sys


def use_every_core(batch_size: int | None = None) -> None:
    """One XLA host device per core, so that sharded work runs on all cores.

    A single XLA CPU device runs FFT-bound steps on about one core; trajectories sharded over
    one device per core scale with the core count. With ``batch_size``, the device count is the
    largest divisor of it not above the core count, so that the batch splits evenly. Must run
    before JAX initialises.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        if isinstance(batch_size, int) and batch_size > 0:
            cores = max(d for d in range(1, cores + 1) if batch_size % d == 0)
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={cores}".strip()


# XLA:CPU runs the convolutions of a training step faster with its Eigen kernels than with
# YNNPACK's, its default in the pinned jaxlib (U-Net train step at 64² × 16: 806 against
# 1268 ms; benchmarks/README.md). The flag only concerns the CPU backend.
EIGEN_CONVOLUTIONS = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"


def use_eigen_convolutions() -> None:
    """Select XLA:CPU's Eigen convolutions unless ``XLA_FLAGS`` chooses; before JAX starts."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_experimental_ynn_fusion_type" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {EIGEN_CONVOLUTIONS}".strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuralpde", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="generate a dataset from a recipe")
    generate.add_argument("recipe", help="recipe name in datasets/ or path to a YAML recipe")
    generate.add_argument("--out", required=True, help="root directory for the dataset")
    generate.add_argument("--set", dest="overrides", action="append", default=[],
                          metavar="KEY=VALUE", help="override a recipe entry (repeatable)")
    generate.add_argument("--resume", action="store_true", help="finish an interrupted run")

    inspect = commands.add_parser("inspect", help="summarise a file or dataset directory")
    inspect.add_argument("path")

    validate = commands.add_parser("validate", help="check a file or directory against the spec")
    validate.add_argument("path")
    validate.add_argument("--well-only", action="store_true",
                          help="check only The Well's part of the spec")

    train = commands.add_parser("train", help="train a model from a YAML config")
    train.add_argument("config", nargs="?", help="training config (YAML)")
    train.add_argument("--out", help="run directory (default runs/<config name>)")
    train.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE", help="override a config entry (repeatable)")
    train.add_argument("--resume", metavar="RUN_DIR", help="resume the run in RUN_DIR")
    train.add_argument("--no-evaluate", action="store_true",
                       help="skip the rollout evaluation on the test split after training")

    evaluate = commands.add_parser("evaluate", help="evaluate a trained run's rollouts")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data", help="dataset directory or file (default: the run's data)")
    evaluate.add_argument("--split", default=None, help="split to evaluate (default: test)")
    evaluate.add_argument("--checkpoint", choices=["best", "latest"], default="best")
    evaluate.add_argument("--steps", type=int, default=None,
                          help="frames to predict (default: to the end of each trajectory)")
    evaluate.add_argument("--out", help="report directory (default RUN_DIR/evaluation)")

    commands.add_parser("models", help="list the models and the reference configurations' "
                        "parameter counts against the published ones")

    quickstart = commands.add_parser("quickstart", help="the README's first command")
    quickstart.add_argument("--out", default="runs/quickstart")
    quickstart.add_argument("--steps", type=int, default=800, help="training steps")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Training runs fastest on one CPU device that reuses its host memory (one device already
    # uses every core for its matmuls and convolutions: benchmarks/README.md); FFT-bound
    # generation and rollouts run faster split over one device per core, and so does online
    # training, whose generator runs in the training program.
    use_eigen_convolutions()
    if args.command in ("generate", "quickstart", "evaluate"):
        use_every_core()
    elif args.command == "train":
        every_core, batch_size = _trains_on_every_core(args)
        if every_core:
            use_every_core(batch_size)
        from neuralpde.training.host_memory import reuse_host_memory

        reuse_host_memory()
    from neuralpde.config import ConfigError
    from neuralpde.data import DataError
    from neuralpde.datagen import GenerationError
    from neuralpde.io import CorruptFileError, DiskFullError, ValidationError
    from neuralpde.training import CheckpointError, TrainingDivergedError

    try:
        return _run(args)
    except (ConfigError, GenerationError, ValidationError, CorruptFileError, DiskFullError,
            FileNotFoundError, DataError, CheckpointError, TrainingDivergedError) as error:
        print(f"neuralpde {args.command}: error: {error}", file=sys.stderr)
        return 2


def _trains_on_every_core(args) -> tuple[bool, int | None]:
    """Whether a ``train`` command (its config, ``--set`` or the resumed run's config) trains
    online (``data.source: online``), and its batch size if given."""
    overrides = dict(o.replace(" ", "").split("=", 1) for o in args.overrides if "=" in o)
    path = args.config or (os.path.join(args.resume, "config.yaml") if args.resume else None)
    import yaml

    try:
        with open(path) as handle:
            config = yaml.safe_load(handle)
    except (OSError, TypeError, ValueError, yaml.YAMLError):
        config = None  # the run itself reports a bad config
    config = config if isinstance(config, dict) else {}
    source = overrides.get("data.source", (config.get("data") or {}).get("source"))
    batch_size = overrides.get("batch_size", config.get("batch_size"))
    try:
        batch_size = int(batch_size)
    except (TypeError, ValueError):
        batch_size = None
    return source == "online", batch_size


def _run(args) -> int:
    if args.command == "generate":
        from neuralpde.config import apply_overrides
        from neuralpde.datagen import generate, load_recipe

        recipe = apply_overrides(load_recipe(args.recipe), args.overrides)
        report = generate(recipe, args.out, resume=args.resume)
        print(f"wrote {report.trajectories} trajectories: solve {report.seconds_solving:.1f} s "
              f"(compile {report.compile_seconds:.1f} s), write {report.seconds_writing:.1f} s")
        for path in report.files:
            print(f"  {path}")
        return 0
    if args.command == "inspect":
        from neuralpde.inspect import summarize

        print(summarize(args.path))
        return 0
    if args.command == "validate":
        from neuralpde.io import validate

        files = validate(args.path, well_only=args.well_only)
        print(f"ok: {len(files)} file(s) meet the spec")
        return 0
    if args.command == "train":
        return _train(args)
    if args.command == "evaluate":
        from neuralpde.evaluation.run_report import evaluate_run

        report, _ = evaluate_run(args.run_dir, data=args.data, split=args.split,
                                 which=args.checkpoint, n_steps=args.steps, out=args.out)
        print(f"evaluation report: {report}")
        return 0
    if args.command == "models":
        from neuralpde.models.references import reference_table

        print(reference_table())
        return 0
    if args.command == "quickstart":
        from neuralpde.quickstart import quickstart

        quickstart(args.out, steps=args.steps)
        return 0
    raise AssertionError(args.command)


def _train(args) -> int:
    from pathlib import Path

    from neuralpde.config import ConfigError, apply_overrides, from_yaml
    from neuralpde.training import TrainConfig, resume, train

    if args.resume:
        if args.config or args.overrides:
            raise ConfigError("--resume RUN_DIR takes the run's own config.yaml; drop the "
                              "config and --set arguments")
        result = resume(args.resume)
    else:
        if not args.config:
            raise ConfigError("train needs a CONFIG.yaml, or --resume RUN_DIR")
        config = apply_overrides(from_yaml(TrainConfig, args.config), args.overrides)
        result = train(config, args.out or Path("runs") / config.name)
    print(f"trained {result.steps} steps in {result.seconds:.0f} s: loss {result.final_loss:.4g}, "
          f"validation loss {result.valid_loss:.4g}; run directory {result.run_dir}")
    if not args.no_evaluate:
        from neuralpde.evaluation.run_report import evaluate_run

        report, _ = evaluate_run(result.run_dir)
        print(f"evaluation report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
