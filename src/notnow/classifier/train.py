"""``notnow train``: retrain on mail the user labelled, report, and replace the model only
if it is not worse.

The user's examples are added to the bundled corpus and weighted so that a few dozen
corrections outweigh the generic examples they contradict. Quality is reported by
stratified cross-validation over the user's own mail (the corpus is always in training):
each fold's model never saw the messages it is judged on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notnow.classifier import dataset, model
from notnow.errors import UserError

logger = logging.getLogger(__name__)


@dataclass
class Metrics:
    true_positive: int = 0
    false_positive: int = 0
    true_negative: int = 0
    false_negative: int = 0
    worst: list[tuple[float, str, str]] = field(default_factory=list)  # (error, origin, label)

    @property
    def precision(self) -> float:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        actual = self.true_positive + self.false_negative
        return self.true_positive / actual if actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, label: str, score: float, threshold: float, origin: str) -> None:
        flagged = score >= threshold
        if label == "rejection":
            if flagged:
                self.true_positive += 1
            else:
                self.false_negative += 1
        elif flagged:
            self.false_positive += 1
        else:
            self.true_negative += 1
        error = 1.0 - score if label == "rejection" else score
        self.worst.append((error, origin, label))

    def report(self, title: str, worst: int = 5) -> str:
        lines = [
            f"{title}: precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}",
            "  confusion (rows: true label)    flagged  not flagged",
            f"    rejection                    {self.true_positive:7d}  {self.false_negative:11d}",
            f"    other                        {self.false_positive:7d}  {self.true_negative:11d}",
        ]
        errors = sorted(self.worst, reverse=True)[:worst]
        errors = [e for e in errors if e[0] >= 0.5]
        if errors:
            lines.append("  worst errors:")
            lines += [
                f"    {label:9} scored {1 - err if label == 'rejection' else err:.3f}  {origin}"
                for err, origin, label in errors
            ]
        return "\n".join(lines)


def user_weight(user_count: int, corpus_count: int) -> float:
    """How much one user example counts against one corpus example."""
    if user_count == 0:
        return 1.0
    return max(2.0, min(10.0, corpus_count / (4.0 * user_count)))


def evaluate(classifier: model.Classifier, examples: Sequence[dataset.Example]) -> Metrics:
    from notnow.message import parse

    metrics = Metrics()
    emails = [parse(example.raw) for example in examples]
    for example, score in zip(examples, classifier.scores(emails), strict=True):
        metrics.add(example.label, score, classifier.draft_threshold, example.origin)
    return metrics


def cross_validate(
    corpus: Sequence[dataset.Example],
    user: Sequence[dataset.Example],
    folds: int = 5,
    progress: Callable[[str], None] = lambda line: None,
) -> Metrics:
    """Each fold: train on corpus + the other folds of the user's mail, score this fold."""
    from sklearn.model_selection import StratifiedKFold

    labels = [example.label for example in user]
    smallest = min(labels.count(label) for label in dataset.LABELS)
    folds = min(folds, smallest)
    metrics = Metrics()
    if folds < 2:
        return metrics
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for number, (train_index, test_index) in enumerate(splitter.split(user, labels), 1):
        progress(f"cross-validation fold {number}/{folds}")
        train_user = [user[i] for i in train_index]
        classifier = fit(corpus, train_user)
        fold = evaluate(classifier, [user[i] for i in test_index])
        metrics.true_positive += fold.true_positive
        metrics.false_positive += fold.false_positive
        metrics.true_negative += fold.true_negative
        metrics.false_negative += fold.false_negative
        metrics.worst += fold.worst
    return metrics


def fit(corpus: Sequence[dataset.Example], user: Sequence[dataset.Example]) -> model.Classifier:
    weight = user_weight(len(user), len(corpus))
    weights = [1.0] * len(corpus) + [weight] * len(user)
    return model.train([*corpus, *user], weights)


def run(args: Any, progress: Callable[[str], None] = lambda line: None) -> str:
    """The whole `notnow train` command; returns the report to print."""
    user: list[dataset.Example] = []
    for directory in args.data:
        user += dataset.read_labelled(directory)
    if args.from_imap:
        user += from_imap(args.config)
    if not user:
        raise UserError(
            "nothing to train on: give --data DIR (with rejection/ and other/) or --from-imap"
        )
    counts = {label: sum(1 for e in user if e.label == label) for label in dataset.LABELS}
    corpus = dataset.bundled()
    out = args.out or model.user_model_path()
    lines = [
        f"training on {len(corpus)} corpus messages and {len(user)} of yours "
        f"({counts['rejection']} rejection, {counts['other']} other; "
        f"each of yours weighs {user_weight(len(user), len(corpus)):.1f})"
    ]
    progress("cross-validating on your mail")
    new_metrics = cross_validate(corpus, user, progress=progress)
    lines.append(new_metrics.report("new model, cross-validated on your mail"))
    current = model.active(out if out.is_file() else None)
    old_metrics = evaluate(current, user)
    lines.append(old_metrics.report("current model on your mail"))
    progress("training the final model")
    classifier = fit(corpus, user)
    classifier.metadata["user_examples"] = len(user)
    classifier.metadata["cv"] = {
        "precision": new_metrics.precision,
        "recall": new_metrics.recall,
        "f1": new_metrics.f1,
    }
    if new_metrics.f1 + 1e-9 < old_metrics.f1 and not args.force:
        lines.append(
            f"kept the current model: the new one scores lower (F1 {new_metrics.f1:.3f} "
            f"< {old_metrics.f1:.3f}); use --force to replace it anyway"
        )
        return "\n".join(lines)
    model.save(classifier, out)
    lines.append(f"saved the new model to {out}")
    return "\n".join(lines)


def from_imap(config_path: Path | None) -> list[dataset.Example]:
    from notnow import config as configuration
    from notnow.mailbox import open_mailbox

    config = configuration.load(config_path)
    account = config.account(config.train.account)
    folders = {"rejection": config.train.rejection_folder, "other": config.train.other_folder}
    examples: list[dataset.Example] = []
    mailbox = open_mailbox(account)
    try:
        for label, folder in folders.items():
            for batch in mailbox.fetch_new(folder, None, None):
                examples += [
                    dataset.Example(f.raw, label, "user", "", f"{folder}/{f.key}") for f in batch
                ]
    finally:
        mailbox.close()
    return examples
