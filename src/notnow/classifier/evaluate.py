"""Measure a model on mail it never trained on: ``python -m notnow.classifier.evaluate``.

Reads labelled sets (a folder with ``labels.csv``: ``file,label,...`` as in
``shared/real/jobmail``) and unlabelled sets of mail that holds no rejection at all (every
flag is a false positive, e.g. the SpamAssassin ham). Prints precision, recall and the
false-positive rate, and the misjudged messages. Evaluation only: nothing here trains.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

from notnow.classifier import dataset, model
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
            f"flagged={(tp + fp) / max(1, len(result.scores)):.4f}"
            + (f" unreadable={result.unreadable}" if result.unreadable else "")
        )
    errors = [
        (source, label, score)
        for result in results
        for source, label, score in result.scores
        if (label == "rejection") != (score >= threshold)
    ]
    errors.sort(key=lambda e: -abs(e[2] - threshold))
    if errors:
        lines.append(f"misjudged ({len(errors)}), worst first:")
        lines += [f"  {label:9} {score:.3f}  {source}" for source, label, score in errors[:show]]
    return "\n".join(lines)


def corpus_holdout(seed: int = 0) -> str:
    """Per-language precision/recall of a model trained on 75% of the corpus, on the rest."""
    from sklearn.model_selection import train_test_split

    examples = dataset.bundled()
    strata = [f"{e.label}-{e.lang}" for e in examples]
    train, test = train_test_split(examples, test_size=0.25, random_state=seed, stratify=strata)
    classifier = model.train(train)
    results = []
    for lang in sorted({e.lang for e in test}):
        items = [(e.origin, e.label, e.raw) for e in test if e.lang == lang]
        results.append(score_sources(classifier, items, f"held-out corpus, {lang}"))
    return report(results, classifier.draft_threshold, show=10)


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
    args = parser.parse_args(argv)
    if args.corpus_holdout:
        sys.stdout.write(corpus_holdout() + "\n")
        return 0
    classifier = model.active(args.model)
    results = [score_sources(classifier, labelled_set(f), f.name) for f in args.labelled]
    results += [score_sources(classifier, unlabelled_set(f), f.name) for f in args.clean]
    sys.stdout.write(report(results, classifier.draft_threshold, args.show) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
