"""Command line: `python -m recommender {evaluate,tune,train,versions,activate,rollback}`.

Input is a CSV of user,item[,weight][,timestamp] (header optional; see
`recommender.csvio`). Progress goes to stderr; results go to stdout.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recommender.content import ItemFeatures
from recommender.csvio import (
    CsvReport,
    parse_date,
    read_interactions_csv,
    read_item_features_csv,
)
from recommender.errors import ModelUnavailableError
from recommender.evaluation import VIEWS, evaluate
from recommender.interactions import Interactions
from recommender.models import MODELS
from recommender.params import TrainingParams
from recommender.splits import SPLITS, Split, make_split
from recommender.store import ModelStore
from recommender.training import train
from recommender.tuning import Trial, TuningResult, tune


def _log(message: str) -> None:
    print(f"[recommender {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _stage_progress() -> Any:
    last: dict[str, float] = {}

    def report(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done in (0, total) or now - last.get(stage, 0.0) > 2:
            last[stage] = now
            _log(f"{stage}: {done}/{total}")

    return report


def _trial_progress(trial: Trial, done: int, total: int) -> None:
    changed = trial.params["model_params"] if trial.stage == "model" else trial.params["blend"]
    if trial.stage == "model":
        changed = {**changed, "half_life_days": trial.params["weighting"]["half_life_days"]}
    if trial.stage == "content":
        changed = {"content": changed["content"], **trial.params["content"]}
    _log(
        f"tune {done}/{total} [{trial.stage}] precision={trial.metrics['precision']:.4f} "
        f"ndcg={trial.metrics['ndcg']:.4f} {json.dumps(changed)} ({trial.seconds:.1f}s)"
    )


# --- arguments ---------------------------------------------------------------------------


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="CSV (or .csv.gz) of user,item[,weight][,time]")
    parser.add_argument(
        "--kind", default="purchase", help="interaction kind of rows without one (purchase)"
    )
    parser.add_argument("--delimiter", default=",", help="field separator (,)")
    parser.add_argument(
        "--items",
        type=Path,
        help="CSV of item features with a header: item,description (more text columns are "
        "joined); adds the content-similarity blend (tuned by `tune`)",
    )


def _add_split(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="time: train before --cutoff, test after; random: --ratio of each user's items "
        "(seeded); last: each user's last moment. Default: time with --cutoff, else random",
    )
    parser.add_argument("--cutoff", help="ISO date of a time split, e.g. 2011-09-01")
    parser.add_argument("--ratio", type=float, default=0.2, help="test share (random split)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")


def _add_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--params", type=Path, help="JSON training parameters (as written by `tune --output`)"
    )
    parser.add_argument(
        "--model", choices=sorted(MODELS), help="model (overrides the params file; default als)"
    )


def _add_tuning(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=int, default=24, help="model parameter sets (24)")
    parser.add_argument(
        "--validation-days",
        type=float,
        help="length of the validation period carved from the end of the training data "
        "(time split; default: the last 20%% of its span)",
    )
    parser.add_argument("-k", type=int, default=10, help="list length (10)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="python -m recommender",
        description="Collaborative filtering on any CSV of user,item[,weight][,timestamp].",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ev = commands.add_parser(
        "evaluate",
        help="measure the model against popularity and item-kNN baselines",
        description="Split the data, train on the train part, and report precision, recall, "
        "nDCG, MAP and hit rate at k (per user, averaged) and catalogue coverage, for the "
        "model, the popularity baseline and the item-kNN baseline. View 'new' leaves out "
        "items each user bought in training (from lists and ground truth); view 'all' counts "
        "re-purchases. A table goes to stdout; --json writes the full report.",
    )
    _add_data(ev)
    _add_split(ev)
    _add_params(ev)
    _add_tuning(ev)
    ev.add_argument(
        "--views", default="new,all", help="comma-separated views: new, all (default both)"
    )
    ev.add_argument(
        "--tune", action="store_true", help="tune on a validation split of the train part first"
    )
    ev.add_argument("--json", type=Path, help="write the JSON report here ('-': stdout)")

    tu = commands.add_parser(
        "tune",
        help="choose parameters on a validation split of the training data",
        description="Search factors, regularization, alpha and iterations (ALS; other models "
        "their own grid), the weighting half-life, the popularity blend and the buy-again "
        "blend, on a validation split carved from the training part only. With --cutoff (or "
        "a random/last split) the test part is cut off first and never seen.",
    )
    _add_data(tu)
    _add_split(tu)
    _add_params(tu)
    _add_tuning(tu)
    tu.add_argument("--output", type=Path, help="write the chosen parameters and trials (JSON)")

    tr = commands.add_parser(
        "train",
        help="train on a CSV and save a model version",
        description="Train on every row (or those before --until) and save the model as a new "
        "version in --store, with its metadata; --activate makes it the active version.",
    )
    _add_data(tr)
    _add_params(tr)
    tr.add_argument("--store", type=Path, required=True, help="model store directory")
    tr.add_argument("--until", help="ISO date: train only on interactions before it")
    tr.add_argument("--activate", action="store_true", help="activate the new version")
    tr.add_argument(
        "--evaluate",
        action="store_true",
        help="first evaluate the parameters on a split (--split, --cutoff, --ratio, --seed) "
        "and keep the figures with the version",
    )
    _add_split(tr)
    tr.add_argument("-k", type=int, default=10, help="list length of --evaluate (10)")

    for name, text in (
        ("versions", "list the saved model versions"),
        ("activate", "make a saved version the active one"),
        ("rollback", "re-activate the previously active version"),
    ):
        sub = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        sub.add_argument("--store", type=Path, required=True, help="model store directory")
        if name == "activate":
            sub.add_argument("version", help="version id (see `versions`)")
    return parser


# --- commands ----------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> tuple[Interactions, CsvReport]:
    _log(f"reading {args.data}")
    data, report = read_interactions_csv(
        args.data, default_kind=args.kind, delimiter=args.delimiter
    )
    _log(report.summary())
    for example in report.examples:
        _log(f"  {example}")
    if len(data) == 0:
        raise SystemExit(f"error: {args.data} holds no usable interaction")
    return data, report


def _item_features(args: argparse.Namespace) -> ItemFeatures | None:
    if args.items is None:
        return None
    features = read_item_features_csv(args.items, delimiter=args.delimiter)
    _log(f"{len(features):,} items with features in {args.items}")
    return features


def _params(args: argparse.Namespace) -> TrainingParams:
    params = TrainingParams.load(args.params) if args.params else TrainingParams()
    if args.model and args.model != params.model:
        params = TrainingParams.from_dict(
            {**params.to_dict(), "model": args.model, "model_params": {}}
        )
    return params


def _split(args: argparse.Namespace, data: Interactions) -> Split:
    method = args.split or ("time" if args.cutoff else "random")
    if args.cutoff and method != "time":
        raise SystemExit(f"error: --cutoff only applies to --split time, not --split {method}")
    cutoff = parse_date(args.cutoff) if args.cutoff else None
    split = make_split(data, method, cutoff=cutoff, ratio=args.ratio, seed=args.seed)
    _log(f"{split.description}: {len(split.train):,} train / {len(split.test):,} test rows")
    if not len(split.train):  # only a time split can leave it empty
        raise SystemExit(f"error: no interaction before the cutoff {args.cutoff} to train on")
    return split


def _require_test_rows(args: argparse.Namespace, split: Split) -> None:
    """End with a message when the split left nothing to test on (every figure would be 0)."""
    if len(split.test):
        return
    if split.method == "time":
        why = f"no interaction on or after the cutoff {args.cutoff} by a user seen before it"
    elif split.method == "random":
        why = "no user has two or more distinct items to split between train and test"
    else:
        why = "no user has interactions at two or more moments"
    raise SystemExit(f"error: no test interactions: {why}")


def _tune(
    args: argparse.Namespace,
    train_part: Interactions,
    method: str,
    features: ItemFeatures | None = None,
) -> TuningResult:
    _log(f"tuning on {len(train_part):,} training rows ({method} validation split)")
    result = tune(
        train_part,
        _params(args),
        method=method,
        validation_days=args.validation_days,
        trials=args.trials,
        k=args.k,
        seed=args.seed,
        progress=_trial_progress,
        item_features=features,
    )
    stages = ("model", "popular", "content", "buy_again")
    for stage in (s for s in stages if any(t.stage == s for t in result.trials)):
        best = result.best(stage)
        _log(f"best {stage}: precision@{args.k}={best.metrics['precision']:.4f}")
    return result


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Evaluate the model and the baselines on a split."""
    views = [v.strip() for v in args.views.split(",") if v.strip()]
    unknown = set(views) - set(VIEWS)
    if unknown or not views:
        raise SystemExit(f"error: --views takes {', '.join(VIEWS)}, not {args.views!r}")
    _check_output(args.json)
    data, csv_report = _load(args)
    features = _item_features(args)
    split = _split(args, data)
    _require_test_rows(args, split)
    params = _params(args)
    tuning = None
    if args.tune:
        tuning = _tune(args, split.train, split.method, features)
        params = tuning.params
    report = evaluate(
        split,
        params,
        k=args.k,
        views=views,
        progress=_stage_progress(),
        item_features=features,
    )
    document = {"data": csv_report.to_dict(), **report.to_dict()}
    if tuning:
        document["tuning"] = tuning.to_dict()
    if args.json and str(args.json) == "-":
        print(json.dumps(document, indent=2))
        return
    print(report.to_table())
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        _log(f"JSON report written to {args.json}")


def _check_output(path: Path | None) -> None:
    """End with a message before any work when a report could not be written to path."""
    if path is None or str(path) == "-":
        return
    if path.is_dir():
        raise SystemExit(f"error: cannot write {path}: it is a folder")
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise SystemExit(f"error: cannot write {path}: {folder} is not a writable folder")


def cmd_tune(args: argparse.Namespace) -> None:
    """Tune on the training part and print (and save) the chosen parameters."""
    _check_output(args.output)
    data, _ = _load(args)
    features = _item_features(args)
    if args.cutoff or args.split:
        split = _split(args, data)
        train_part, method = split.train, split.method
    else:
        train_part, method = data, "time" if data.time_span else "random"
    result = _tune(args, train_part, method, features)
    text = json.dumps(result.params.to_dict(), indent=2)
    print(text)
    if args.output:
        result.save(args.output)
        _log(f"parameters and {len(result.trials)} trials written to {args.output}")


def _store(args: argparse.Namespace, *, create: bool = False) -> ModelStore:
    """The model store of --store (made when `create`); an unusable path ends with a
    message. Reading commands never create it."""
    path = Path(args.store)
    try:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        if create:
            path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SystemExit(
            f"error: --store {args.store} cannot hold model versions: {exc.strerror or exc}"
        ) from None
    return ModelStore(path)


def cmd_train(args: argparse.Namespace) -> None:
    """Train on the whole CSV and save a version."""
    data, csv_report = _load(args)
    if args.until:
        data = data.before(parse_date(args.until))
        _log(f"{len(data):,} rows before {args.until}")
        if not len(data):
            raise ValueError(f"no interaction before --until {args.until}: nothing to train on")
    params = _params(args)
    features = _item_features(args)
    store = _store(args, create=True)  # before training, which may take long
    metadata: dict[str, object] = {"source": str(args.data), "data": csv_report.to_dict()}
    if args.evaluate:
        split = _split(args, data)
        _require_test_rows(args, split)
        report = evaluate(
            split, params, k=args.k, progress=_stage_progress(), item_features=features
        )
        _log(report.to_table())
        metadata["evaluation"] = report.to_dict()
    recommender = train(data, params, progress=_stage_progress(), item_features=features)
    version = store.save(recommender, metadata)
    _log(f"trained in {recommender.info['training_seconds']:.1f} s: {recommender!r}")
    if args.activate:
        store.activate(version)
        _log(f"activated {version}")
    print(version)


def cmd_versions(args: argparse.Namespace) -> None:
    """List versions."""
    if not Path(args.store).exists():
        raise SystemExit(f"error: there is no model store at {args.store}")
    found = _store(args).versions()
    if not found:
        _log(f"no model versions in {args.store} yet")
    for version in found:
        marker = "*" if version.active else " "
        training = version.metadata.get("training", {})
        print(
            f"{marker} {version.id}  {version.metadata.get('model', '?'):10s} "
            f"users={training.get('users', '?')} items={training.get('items', '?')} "
            f"data_end={training.get('data_end', '?')}"
            + _headline(version.metadata.get("evaluation"))
        )


def _headline(evaluation: object) -> str:
    """precision@k of the model on new items and its ratio to popularity, when evaluated."""
    if not isinstance(evaluation, dict):
        return ""
    rows = {
        (row.get("view"), row.get("model")): row
        for row in evaluation.get("results", [])
        if isinstance(row, dict)
    }
    model, base = rows.get(("new", "model")), rows.get(("new", "popularity"))
    if model is None or not isinstance(model.get("precision"), int | float):
        return ""
    text = f" precision@{evaluation.get('k', '?')}_new={model['precision']:.4f}"
    if base and isinstance(base.get("precision"), int | float) and base["precision"] > 0:
        text += f" ({model['precision'] / base['precision']:.2f}x popularity)"
    return text


def cmd_activate(args: argparse.Namespace) -> None:
    """Activate a version."""
    _store(args).activate(args.version)
    print(args.version)


def cmd_rollback(args: argparse.Namespace) -> None:
    """Roll back to the previous version."""
    print(_store(args).rollback())


COMMANDS = {
    "evaluate": cmd_evaluate,
    "tune": cmd_tune,
    "train": cmd_train,
    "versions": cmd_versions,
    "activate": cmd_activate,
    "rollback": cmd_rollback,
}


def main(argv: Sequence[str] | None = None) -> None:
    """Run one command; errors in the input end with a message, not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except OSError as exc:  # a missing file, a directory given as a file, no permission...
        raise SystemExit(f"error: {_describe_os_error(exc)}") from None
    except (ValueError, ModelUnavailableError) as exc:
        raise SystemExit(f"error: {exc}") from None


def _describe_os_error(exc: OSError) -> str:
    if exc.filename is None or exc.strerror is None:
        return str(exc)
    return f"{exc.filename}: {exc.strerror}"
