"""Training commands: `train`, `tune`, `train-audio`, `train-pooling`."""
from __future__ import annotations

import json
from pathlib import Path

from ..encoders.model_id import AUDIO_TOWER, AudioPath, ModelId
from ..encoders.registry import DEFAULT_MODEL
from .common import check_exist, check_models, device_option, key_values, positive_int


def add(commands) -> None:
    train = commands.add_parser("train", help="train projection heads (or more) with a metric-learning loss",
                                epilog="example:\n  mmret train configs/train_offline_heads.yaml   # writes "
                                       "runs/offline-heads/model")
    train.add_argument("config", metavar="CONFIG.yaml", help="a training config (see configs/train_offline_heads.yaml)")
    _override_options(train)
    train.set_defaults(run=_train)

    tune = commands.add_parser("tune", help="search training hyperparameters with Optuna (the config's tune: space)",
                               epilog="example:\n  mmret tune configs/train_offline_heads.yaml")
    tune.add_argument("config", metavar="CONFIG.yaml", help="a training config with a tune: section")
    tune.add_argument("--trials", type=positive_int, help="trials to run (default: the config's tune.trials)")
    _override_options(tune)
    tune.set_defaults(run=_tune)

    train_audio = commands.add_parser("train-audio", help="train an audio tower into the text space on labelled clips",
                                      epilog="example:\n  mmret train-audio --data esc50:../shared/data/esc50 "
                                             "--option folds=4 --out towers/esc50")
    train_audio.add_argument("--data", required=True, metavar="LAYOUT:PATH", help="esc50:, fsdd:, labels: and a path")
    train_audio.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                             help="layout option, e.g. folds=4 (repeatable)")
    train_audio.add_argument("--out", required=True, metavar="DIR", help="where the tower is saved")
    train_audio.add_argument("--text-model", default=DEFAULT_MODEL, help="the text encoder whose space it joins")
    train_audio.add_argument("--epochs", type=positive_int, default=30, help="passes over the training clips")
    train_audio.add_argument("--holdout", type=float, default=0.2, help="fraction of clips held out for validation")
    train_audio.set_defaults(run=_train_audio)

    train_pooling = commands.add_parser("train-pooling",
                                        help="train attention pooling of video keyframes on captioned moments",
                                        epilog="example:\n  mmret train-pooling --segments moments.csv --out pool.pt")
    train_pooling.add_argument("--segments", required=True, metavar="TABLE",
                               help="CSV/TSV/JSONL with path, start, end, text (one row per caption)")
    train_pooling.add_argument("--out", required=True, metavar="FILE.pt", help="where the pooling is saved")
    train_pooling.add_argument("--model", default=DEFAULT_MODEL, help="the encoder whose image and text towers it uses")
    train_pooling.add_argument("--epochs", type=positive_int, default=50, help="passes over the training videos")
    train_pooling.add_argument("--holdout", type=float, default=0.2, help="fraction of videos held out")
    train_pooling.set_defaults(run=_train_pooling)


def _override_options(parser) -> None:
    parser.add_argument("--output", metavar="DIR", help="the run directory (default: the config's output)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. training.epochs=5 or loss.name=vsepp (repeatable; "
                             "VALUE is YAML)")
    device_option(parser)  # where the model trains; tower features are cached on the CPU


def _overrides(args) -> dict:
    import yaml

    overrides = {key: yaml.safe_load(value) for key, value in key_values(args.set, "--set").items()}
    if args.output is not None:  # a command-line path: relative to the working directory
        overrides["output"] = str(Path(args.output).expanduser().resolve())
    if getattr(args, "trials", None) is not None:
        overrides["tune.trials"] = args.trials
    return overrides


def _train(args) -> int:
    from ..training import train_from_config

    check_exist([args.config], "config")
    model_dir = train_from_config(args.config, progress=True, overrides=_overrides(args), device=args.device)
    print(f"model saved in {model_dir}")
    return 0


def _tune(args) -> int:
    from ..training import tune_from_config

    check_exist([args.config], "config")
    trials = tune_from_config(args.config, progress=True, overrides=_overrides(args), device=args.device)
    print(f"trials in {trials}")
    return 0


def _train_audio(args) -> int:
    from ..training.audio_tower_fit import TrainSettings
    from ..training.audio_tower_run import train_audio_tower

    _, sep, path = args.data.partition(":")
    check_exist([path if sep else args.data], "--data")
    check_models([args.text_model])
    manifest = train_audio_tower(args.data, args.out, text_model=args.text_model,
                                 settings=TrainSettings(epochs=args.epochs), holdout=args.holdout,
                                 options=key_values(args.option, "--option"))
    print(json.dumps(manifest.get("validation", {}), indent=2))
    model = ModelId.parse(args.text_model).with_audio(AudioPath(AUDIO_TOWER, args.out))
    print(f"audio tower saved in {args.out}; use it with --model '{model}'")
    return 0


def _train_pooling(args) -> int:
    from ..training.pooling_run import train_pooling

    check_exist([args.segments], "--segments")
    check_models([args.model])
    report = train_pooling(args.segments, args.out, args.model, epochs=args.epochs, holdout=args.holdout)
    print(json.dumps(report["validation"], indent=2))
    print(f"pooling saved in {args.out}; use it with mmret index --pooling {args.out}")
    return 0
