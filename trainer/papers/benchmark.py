"""Reproduce the papers' benchmark.

``python -m trainer.papers.benchmark --data DIR --dataset Corel-5k``

Trains backbone + head on a dataset in the papers' JSON format (``trainer.papers.datasets``) with
the papers' transforms, optimiser and schedule (``trainer.papers.paper_protocol``), evaluates
after every epoch and prints a final table in the papers' layout (macro P, R, F1 from the
averaged P and R, N+, mAP) next to the published numbers for that dataset.

Two protocols:

* ``paper`` — exactly what the papers did: after every epoch the model is evaluated on the
  **test** set at threshold 0.5 and the epoch with the best macro F1 is kept; the per-label
  MCC thresholds are tuned on the **training** set, scored in eval mode through the
  training transforms (random flips), with every label tuned (a label whose MCC is 0
  everywhere gets 0.05). Optimistic: the test set chooses the checkpoint.
* ``honest`` — a validation split (``--val-fraction`` of the training set, seeded) is
  carved out and never trained on; it chooses the checkpoint and tunes the thresholds
  (labels without a validation positive keep 0.5). The test set is scored once, at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.errors import ModelLoadError
from core.model.tagger import pick_device
from trainer.learning.losses import LOSS_NAMES
from trainer.learning.metrics import Metrics, evaluate
from trainer.learning.thresholds import tune_thresholds
from trainer.papers.datasets import (
    AnnotationDataset,
    Split,
    build_transform,
    dataset_dir,
    paper_order,
    read_split,
    stats_for,
    validation_split,
)
from trainer.papers.paper_protocol import (
    BackboneUnavailableError,
    EpochClock,
    HeadSpec,
    Trainer,
    build_model,
    load_backbone,
    make_loader,
    predict,
    restore,
    seed_everything,
    snapshot,
)
from trainer.papers.published import published_rows

logger = logging.getLogger(__name__)

PROTOCOLS = ("paper", "honest")
HEADS = ("linear", "attention")
Printer = Callable[[str], None]


@dataclass(frozen=True)
class BenchmarkConfig:
    """One benchmark run; the defaults are the papers' (docs/papers-recipe.md §1.4, §2.3)."""

    data: Path
    dataset: str = "Corel-5k"
    loss: str = "proposed"
    head: HeadSpec = field(default_factory=HeadSpec)
    protocol: str = "paper"
    backbone: str = "tresnet_m"
    weights: Path | None = None
    pretrained: bool = True
    epochs: int = 40
    stop_after: int | None = None
    batch_size: int = 32
    img_size: int = 448
    lr: float = 1e-4
    seed: int | None = None
    ema_decay: float | None = None
    val_fraction: float = 0.1
    workers: int = 2
    threads: int | None = None
    device: str = "auto"
    amp: bool = False
    max_train: int | None = None
    max_test: int | None = None

    @property
    def run_seed(self) -> int:
        """Seed 1 for paper 1 (linear head), 20 for paper 2 (attention), unless given."""
        if self.seed is not None:
            return self.seed
        return 20 if self.head.kind == "attention" else 1

    @property
    def run_ema(self) -> float:
        """EMA decay: 0.99 for the attention head (paper 2), off for linear, unless given."""
        if self.ema_decay is not None:
            return self.ema_decay
        return 0.99 if self.head.kind == "attention" else 0.0


@dataclass
class Splits:
    """Training rows, the checkpoint-selection rows, the threshold rows, and the test rows."""

    train: Split
    select: Split
    tune: Split
    test: Split
    select_name: str
    tune_name: str


def prepare_splits(config: BenchmarkConfig, root: Path) -> Splits:
    """Read the JSON splits in the papers' order and carve what the protocol needs."""
    train = read_split(root / "train.json")
    test = read_split(root / "test.json")
    if train.labels != test.labels:
        raise ValueError("train.json and test.json list different vocabularies")
    train = train.subset(paper_order(len(train.samples))[: config.max_train])
    test = test.subset(paper_order(len(test.samples))[: config.max_test])
    if config.protocol == "paper":
        return Splits(train, test, train, test, "test", "train (flips)")
    rows, val_rows = validation_split(len(train.samples), config.val_fraction, config.run_seed)
    val = train.subset(val_rows)
    return Splits(train.subset(rows), val, val, test, "val", "val")


def _metrics_text(m: Metrics) -> str:
    return (
        f"P {m.precision:.3f} R {m.recall:.3f} F1 {m.f1:.3f} N+ {m.n_plus} "
        f"mAP {100 * m.mean_ap:.1f}"
    )


def _loaders(config: BenchmarkConfig, root: Path, splits: Splits, device: torch.device) -> dict:
    stats = stats_for(config.dataset, root, splits.train)
    train_tf = build_transform(config.img_size, stats, train=True)
    eval_tf = build_transform(config.img_size, stats, train=False)
    tune_tf = train_tf if config.protocol == "paper" else eval_tf  # the papers: train loader
    pin = device.type == "cuda"
    seed = config.run_seed

    def loader(split: Split, transform: object, shuffle: bool) -> torch.utils.data.DataLoader:
        return make_loader(
            AnnotationDataset(root, split, transform),
            config.batch_size,
            shuffle=shuffle,
            workers=config.workers,
            seed=seed,
            pin=pin,
        )

    return {
        "train": loader(splits.train, train_tf, True),
        "select": loader(splits.select, eval_tf, False),
        "tune": loader(splits.tune, tune_tf, config.protocol == "paper"),
        "test": loader(splits.test, eval_tf, False),
        "stats": stats,
    }


def run(config: BenchmarkConfig, echo: Printer = print) -> dict:
    """Train, select, tune and evaluate; print per-epoch lines; return the results dict.

    Raises:
        BackboneUnavailableError: Pretrained weights asked for but not available offline.
        ModelLoadError: The weights file does not fit the backbone.
        FileNotFoundError: The dataset is not where ``config.data`` says.
    """
    if config.protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {config.protocol!r}; choose {PROTOCOLS}")
    root = dataset_dir(config.data, config.dataset)
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.run_seed)
    device = pick_device(config.device)
    splits = prepare_splits(config, root)
    loaders = _loaders(config, root, splits, device)
    backbone = load_backbone(config.backbone, config.weights, config.pretrained)
    model = build_model(backbone, len(splits.train.labels), config.head)
    trainer = Trainer.create(
        model,
        loss=config.loss,
        lr=config.lr,
        epochs=config.epochs,
        steps_per_epoch=len(loaders["train"]),
        device=device,
        ema_decay=config.run_ema,
        amp=config.amp,
    )
    echo(
        f"{config.dataset}: {len(splits.train.samples)} train, {len(splits.select.samples)} "
        f"{splits.select_name} (selection), {len(splits.test.samples)} test, "
        f"{len(splits.train.labels)} labels; {config.backbone} + {config.head.kind} head, "
        f"loss {config.loss}, protocol {config.protocol}, device {device}"
    )
    history, best = _train_epochs(config, trainer, loaders, splits, echo)
    restore(trainer.model, best["state"])
    result = _final(config, trainer, loaders, splits, device)
    result.update(
        history=history, best_epoch=best["epoch"], device=str(device), mean_std=loaders["stats"]
    )
    seconds = [h["train_seconds"] for h in history]
    result["seconds_per_epoch_median"] = statistics.median(seconds) if seconds else None
    memory = [h["gpu_peak_gib"] for h in history if h["gpu_peak_gib"] is not None]
    result["gpu_peak_gib"] = max(memory) if memory else None
    echo(format_table(config, result))
    return result


def _train_epochs(
    config: BenchmarkConfig, trainer: Trainer, loaders: dict, splits: Splits, echo: Printer
) -> tuple[list[dict], dict]:
    clock = EpochClock(trainer.device)
    planned = min(config.stop_after or config.epochs, config.epochs)
    history: list[dict] = []
    best: dict = {"f1": -1.0, "epoch": 0, "state": None}
    for epoch in range(1, planned + 1):
        clock.start()
        loss = trainer.train_epoch(loaders["train"])
        seconds, peak = clock.stop()
        scores, y = predict(trainer.model, loaders["select"], trainer.device, config.amp)
        chosen = evaluate(y, scores, 0.5, include_absent=True)
        line = {
            "epoch": epoch,
            "loss": loss,
            "lr": trainer.lr,
            "train_seconds": seconds,
            "gpu_peak_gib": peak,
            splits.select_name: chosen.as_dict(),
        }
        text = (
            f"epoch {epoch:3d}/{planned}  loss {loss:.5f}  {splits.select_name}: "
            f"{_metrics_text(chosen)}"
        )
        if trainer.ema is not None:
            ema_scores, _ = predict(
                trainer.ema.module, loaders["select"], trainer.device, config.amp
            )
            ema = evaluate(y, ema_scores, 0.5, include_absent=True)
            line["ema"] = ema.as_dict()
            text += f"  (EMA F1 {ema.f1:.3f} N+ {ema.n_plus})"
        if chosen.f1 > best["f1"]:
            best = {"f1": chosen.f1, "epoch": epoch, "state": snapshot(trainer.model)}
            text += "  *"
        mem = f"  {peak:.1f} GiB" if peak is not None else ""
        echo(f"{text}  {seconds:.1f} s{mem}")
        history.append(line)
    return history, best


def _final(
    config: BenchmarkConfig, trainer: Trainer, loaders: dict, splits: Splits, device: torch.device
) -> dict:
    tune_scores, tune_y = predict(trainer.model, loaders["tune"], device, config.amp)
    min_pos = 0 if config.protocol == "paper" else 1
    tuned = tune_thresholds(
        tune_y, tune_scores, default=0.5, min_positives=min_pos, min_negatives=min_pos
    )
    scores, y = predict(trainer.model, loaders["test"], device, config.amp)
    at_half = evaluate(y, scores, 0.5, include_absent=True)
    at_mcc = evaluate(y, scores, tuned.thresholds, include_absent=True)
    return {
        "config": _config_dict(config),
        "labels": list(splits.train.labels),
        "test": {"thr 0.5": at_half.as_dict(), "+MCC": at_mcc.as_dict()},
        "thresholds": [float(t) for t in tuned.thresholds],
        "selection_set": splits.select_name,
        "threshold_set": splits.tune_name,
    }


def _config_dict(config: BenchmarkConfig) -> dict:
    out = asdict(config)
    out.update(
        data=str(config.data),
        weights=str(config.weights) if config.weights else None,
        seed=config.run_seed,
        ema_decay=config.run_ema,
    )
    return out


def _row(name: str, values: Sequence[float | int | None]) -> str:
    p, r, f1, n_plus, mean_ap = values
    ap = "–" if mean_ap is None else f"{mean_ap:.1f}"
    return f"{name:<24} {p:6.3f} {r:6.3f} {f1:6.3f} {n_plus:5d} {ap:>6}"


def format_table(config: BenchmarkConfig, result: dict) -> str:
    """The papers' layout: measured rows, then the published rows for this setting."""
    protocol = {
        "paper": "checkpoint chosen on the test set, MCC thresholds tuned on the training set",
        "honest": "checkpoint and MCC thresholds from a validation split of the training set",
    }[config.protocol]
    lines = [
        "",
        f"{config.dataset} · loss {config.loss} · {config.head.kind} head · {config.backbone} "
        f"{config.img_size}px · protocol {config.protocol} ({protocol})",
        f"best epoch {result['best_epoch']} of {len(result['history'])}",
        f"{'':<24} {'P':>6} {'R':>6} {'F1':>6} {'N+':>5} {'mAP':>6}",
    ]
    for name, m in result["test"].items():
        values = (m["precision"], m["recall"], m["f1"], m["n_plus"], 100 * m["mean_ap"])
        lines.append(_row(f"measured {name}", values))
    published = published_rows(config.dataset, config.head.kind, config.loss)
    for name, values, source in published:
        lines.append(_row(f"published {name}", values) + f"   {source}")
    if not published:
        lines.append("(no published numbers for this dataset, head and loss)")
    if result.get("seconds_per_epoch_median") is not None:
        mem = result.get("gpu_peak_gib")
        extra = f", peak GPU memory {mem:.1f} GiB" if mem is not None else ""
        lines.append(
            f"training: {result['seconds_per_epoch_median']:.1f} s per epoch (median)"
            f"{extra} on {result['device']}"
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m trainer.papers.benchmark", description=__doc__.split("\n")[0]
    )
    p.add_argument("--data", type=Path, required=True, help="folder of <dataset>/ or the dataset")
    p.add_argument(
        "--dataset", default="Corel-5k", help="Corel-5k, ESP-Game, IAPR-TC-12, VG-500 or your own"
    )
    p.add_argument("--loss", choices=LOSS_NAMES, default="proposed")
    p.add_argument("--head", choices=HEADS, default="linear")
    p.add_argument("--protocol", choices=PROTOCOLS, default="paper")
    p.add_argument("--backbone", default="tresnet_m", help="any timm name")
    p.add_argument("--weights", type=Path, help="local checkpoint for --backbone")
    p.add_argument(
        "--no-pretrained",
        dest="pretrained",
        action="store_false",
        help="random initialisation (for smoke tests)",
    )
    p.add_argument("--epochs", type=int, default=40, help="epochs the one-cycle schedule spans")
    p.add_argument("--stop-after", type=int, help="stop early, e.g. --epochs 80 --stop-after 60")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--img-size", type=int, default=448)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, help="default 1 (linear) or 20 (attention)")
    p.add_argument(
        "--ema",
        type=float,
        dest="ema_decay",
        help="EMA decay, 0 = off (default 0.99 for attention, off for linear)",
    )
    p.add_argument("--val-fraction", type=float, default=0.1, help="honest protocol only")
    p.add_argument("--attn-dim", type=int, default=1024)
    p.add_argument("--attn-ffn", type=int, default=2048)
    p.add_argument("--workers", type=int, default=2, help="data-loading processes")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", action="store_true", help="mixed precision (the papers use fp32)")
    p.add_argument("--max-train", type=int, help="use only the first N training images")
    p.add_argument("--max-test", type=int, help="use only the first N test images")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    return p


def config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    """A ``BenchmarkConfig`` from parsed command-line arguments."""
    head = HeadSpec(kind=args.head, attn_dim=args.attn_dim, attn_ffn=args.attn_ffn)
    keys = (
        "data",
        "dataset",
        "loss",
        "protocol",
        "backbone",
        "weights",
        "pretrained",
        "epochs",
        "stop_after",
        "batch_size",
        "img_size",
        "lr",
        "seed",
        "ema_decay",
        "val_fraction",
        "workers",
        "threads",
        "device",
        "amp",
        "max_train",
        "max_test",
    )
    return BenchmarkConfig(head=head, **{k: getattr(args, k) for k in keys})


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = run(config_from_args(args))
    except (BackboneUnavailableError, ModelLoadError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=_jsonable), encoding="utf-8")
        print(f"results written to {args.out}")
    return 0


def _jsonable(value: object) -> object:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
