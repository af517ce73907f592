"""Measure a model on mail it never trained on: ``python -m notnow.classifier.evaluate``.

Reads labelled sets (a folder with ``labels.csv``: ``file,label,...`` as in
``shared/real/jobmail``) and unlabelled sets of mail that holds no rejection at all (every
flag is a false positive, e.g. the SpamAssassin ham). Prints precision, recall and the
false-positive rate, and the misjudged messages.

``--corpus-holdout`` trains on part of the bundled corpus and reports per language on the
rest: by default a random stratified 25 %; with ``--by-file``, grouped folds over the
corpus file each message came from, so that no writer's file is on both sides (the
proxy for mail written by other people). ``--half-split DIR`` is the other experiment
here that trains: it asks whether retraining on half of a user's labelled mail
(``DIR/rejection``, ``DIR/other``) improves the other half, using exactly the training
``notnow train`` does (``train.fit``). Nothing here saves a model.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from notnow.classifier import dataset, model, train
from notnow.errors import MessageError
from notnow.message import Email, parse


@dataclass
class SetResult:
    name: str
    scores: list[tuple[str, str, float]] = field(default_factory=list)  # (source, label, score)
    unreadable: int = 0

    def counts(self, threshold: float) -> tuple[int, int, int, int]:
        tp = sum(1 for _, label, s in self.scores if label == "rejection" and s >= threshold)
        fn = sum(1 for _, label, s in self.scores if label == "rejection" and s < threshold)
        fp = sum(1 for _, label, s in self.scores if label != "rejection" and s >= threshold)
        tn = sum(1 for _, label, s in self.scores if label != "rejection" and s < threshold)
        return tp, fp, tn, fn

    def log_loss(self) -> float:
        """Mean -ln(probability given to the true label), clipped as scikit-learn's is."""
        if not self.scores:
            return float("nan")
        total = 0.0
        for _, label, score in self.scores:
            given = score if label == "rejection" else 1.0 - score
            total -= math.log(min(max(given, 1e-15), 1.0))
        return total / len(self.scores)


def score_sources(
    classifier: model.Classifier, items: list[tuple[str, str, bytes]], name: str
) -> SetResult:
    result = SetResult(name)
    emails: list[Email] = []
    kept: list[tuple[str, str]] = []
    for source, label, raw in items:
        try:
            emails.append(parse(raw))
            kept.append((source, label))
        except MessageError:
            result.unreadable += 1
    for (source, label), score in zip(kept, classifier.scores(emails), strict=True):
        result.scores.append((source, label, score))
    return result


def labelled_set(folder: Path) -> list[tuple[str, str, bytes]]:
    with (folder / "labels.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        (str(folder / row["file"]), row["label"], (folder / row["file"]).read_bytes())
        for row in rows
    ]


def unlabelled_set(folder: Path) -> list[tuple[str, str, bytes]]:
    return [(source.name, "other", source.raw) for source in dataset.read_sources(folder)]


def report(results: list[SetResult], threshold: float, show: int = 15) -> str:
    lines = []
    for result in results:
        tp, fp, tn, fn = result.counts(threshold)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else float("nan")
        lines.append(
            f"{result.name:28} n={len(result.scores):5d}  TP={tp:4d} FP={fp:4d} TN={tn:5d} "
            f"FN={fn:4d}  precision={precision:.3f} recall={recall:.3f} "
            f"log_loss={result.log_loss():.3f} "
            f"flagged={(tp + fp) / max(1, len(result.scores)):.4f}"
            + (f" unreadable={result.unreadable}" if result.unreadable else "")
        )
    # A message in more than one set (a language and "all") is listed once.
    errors = sorted(
        {
            (source, label, score)
            for result in results
            for source, label, score in result.scores
            if (label == "rejection") != (score >= threshold)
        }
    )
    errors.sort(key=lambda e: -abs(e[2] - threshold))
    if errors:
        lines.append(f"misjudged ({len(errors)}), worst first:")
        lines += [f"  {label:9} {score:.3f}  {source}" for source, label, score in errors[:show]]
    return "\n".join(lines)


def corpus_file(example: dataset.Example) -> str:
    """The corpus file a message came from: its ``origin`` without ``#n``."""
    return example.origin.rpartition("#")[0] or example.origin


def grouped_folds(
    examples: Sequence[dataset.Example], folds: int = 5, seed: int = 0
) -> list[tuple[list[int], list[int]]]:
    """(train, test) indices of ``folds`` folds in which every corpus file lies wholly on
    one side, balanced by label and language as far as whole files allow."""
    from sklearn.model_selection import StratifiedGroupKFold

    strata = [f"{example.label}-{example.lang}" for example in examples]
    files = [corpus_file(example) for example in examples]
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [
        (train_index.tolist(), test_index.tolist())
        for train_index, test_index in splitter.split(examples, strata, files)
    ]


def corpus_holdout(
    seed: int = 0,
    by_file: bool = False,
    folds: int = 5,
    examples: Sequence[dataset.Example] | None = None,
) -> str:
    """Per-language precision, recall and log loss of models scored only on corpus
    messages they never trained on: a random stratified 25 % (one model), or with
    ``by_file`` every message once, by the model of the grouped fold that left its
    whole file out (``folds`` models). ``examples`` defaults to the bundled corpus."""
    from sklearn.model_selection import train_test_split

    if examples is None:
        examples = dataset.bundled()
    if by_file:
        splits = grouped_folds(examples, folds, seed)
    else:
        strata = [f"{e.label}-{e.lang}" for e in examples]
        train_index, test_index = train_test_split(
            list(range(len(examples))), test_size=0.25, random_state=seed, stratify=strata
        )
        splits = [(train_index, test_index)]
    scored: list[tuple[dataset.Example, float]] = []
    threshold = model.DEFAULT_DRAFT_THRESHOLD
    for train_index, test_index in splits:
        classifier = model.train([examples[i] for i in train_index])
        threshold = classifier.draft_threshold
        test = [examples[i] for i in test_index]
        emails = [parse(example.raw) for example in test]
        scored += zip(test, classifier.scores(emails), strict=True)
    how = f"{folds} folds by file" if by_file else "held-out 25%"
    results = []
    for lang in sorted({example.lang for example, _ in scored}):
        result = SetResult(f"corpus {how}, {lang}")
        result.scores = [(e.origin, e.label, s) for e, s in scored if e.lang == lang]
        results.append(result)
    for name, english in (("non-English", False), ("all", None)):
        result = SetResult(f"corpus {how}, {name}")
        result.scores = [
            (e.origin, e.label, s)
            for e, s in scored
            if english is None or (e.lang == "en") == english
        ]
        results.append(result)
    return report(results, threshold, show=10)


FEW = 20  # "a few dozen corrections matter": the smallest retraining the experiment tries


@dataclass
class SplitResult:
    seed: int
    trained_on: str  # "A" | "B"
    train_size: int
    test_size: int
    metrics: dict[str, train.Metrics]  # model name -> metrics on the other half


def half_split(
    directory: Path, seeds: int = 3, few: int = FEW, progress: train.Progress = train.no_progress
) -> list[SplitResult]:
    """For each seed: split the user's mail into stratified halves A and B; score each
    half with the bundled model, with ``train.fit(corpus, other half)`` and with
    ``train.fit(corpus, few messages of the other half)``."""
    from sklearn.model_selection import train_test_split

    user = dataset.read_labelled(directory)
    labels = [example.label for example in user]
    corpus = dataset.bundled()
    step = "loading the bundled model"
    progress(step, 0, 1)
    bundled = model.bundled()
    progress(step, 1, 1)
    results: list[SplitResult] = []
    step = f"retraining on half of {directory} ({seeds} seeds x 2 halves x 2 sizes)"
    total, done = seeds * 4, 0
    progress(step, done, total)
    for seed in range(seeds):
        half_a, half_b = train_test_split(user, test_size=0.5, stratify=labels, random_state=seed)
        for name, taught, judged in (("A", half_a, half_b), ("B", half_b, half_a)):
            some, _ = train_test_split(
                taught,
                train_size=few,
                stratify=[example.label for example in taught],
                random_state=seed,
            )
            metrics = {"bundled": train.evaluate(bundled, judged)}
            metrics["retrained"] = train.evaluate(train.fit(corpus, taught), judged)
            done += 1
            progress(step, done, total)
            metrics[f"retrained on {few}"] = train.evaluate(train.fit(corpus, some), judged)
            done += 1
            progress(step, done, total)
            results.append(SplitResult(seed, name, len(taught), len(judged), metrics))
    return results


def half_split_report(results: list[SplitResult]) -> str:
    lines = ["per split (each model scored on the half it never trained on):"]
    overall: dict[str, train.Metrics] = {}
    for result in results:
        test = "B" if result.trained_on == "A" else "A"
        lines.append(
            f"  seed {result.seed}, retrain on {result.trained_on} ({result.train_size}), "
            f"test on {test} ({result.test_size}):"
        )
        for name, metrics in result.metrics.items():
            lines.append(f"    {name:15} errors {metrics.errors:3d}  {metrics.summary()}")
            overall.setdefault(name, train.Metrics()).merge(metrics)
    lines.append(f"overall ({len(results)} splits, every message scored {len(results) // 2}x):")
    for name, metrics in overall.items():
        lines.append(f"    {name:15} errors {metrics.errors:3d}  {metrics.summary()}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m notnow.classifier.evaluate", description=__doc__
    )
    parser.add_argument(
        "--labelled",
        type=Path,
        nargs="*",
        default=[],
        help="folders with labels.csv (file,label,...)",
    )
    parser.add_argument(
        "--clean", type=Path, nargs="*", default=[], help="folders of mail without any rejection"
    )
    parser.add_argument("--model", type=Path, help="a trained model (default: active)")
    parser.add_argument("--show", type=int, default=15, help="misjudged messages to list")
    parser.add_argument(
        "--corpus-holdout",
        action="store_true",
        help="train on 75%% of the bundled corpus, report per language on "
        "the held-out 25%% (stratified by label and language)",
    )
    parser.add_argument(
        "--by-file",
        action="store_true",
        help="with --corpus-holdout: grouped folds, each corpus file wholly in train or "
        "in test (every message scored once, by a model that never saw its file)",
    )
    parser.add_argument("--folds", type=int, default=5, help="folds for --by-file")
    parser.add_argument(
        "--half-split",
        type=Path,
        metavar="DIR",
        help="retrain on half of a user's labelled mail (DIR/rejection, DIR/other) and "
        "judge on the other half, against the bundled model",
    )
    parser.add_argument("--seeds", type=int, default=3, help="random splits for --half-split")
    args = parser.parse_args(argv)
    if args.half_split:
        splits = half_split(args.half_split, args.seeds, progress=_stderr_progress)
        sys.stdout.write(half_split_report(splits) + "\n")
        return 0
    if args.corpus_holdout:
        sys.stdout.write(corpus_holdout(by_file=args.by_file, folds=args.folds) + "\n")
        return 0
    classifier = model.active(args.model)
    results = [score_sources(classifier, labelled_set(f), f.name) for f in args.labelled]
    results += [score_sources(classifier, unlabelled_set(f), f.name) for f in args.clean]
    sys.stdout.write(report(results, classifier.draft_threshold, args.show) + "\n")
    return 0


def _stderr_progress(step: str, done: int, total: int) -> None:
    # A developer tool run as ``python -m``: this module is its own command line.
    sys.stderr.write(f"{step}: {done}/{total}\n")


if __name__ == "__main__":
    sys.exit(main())
