"""``notnow train``: retrain on mail the user labelled, report, and replace the model only
if it is not worse.

The user's examples are added to the bundled corpus and weighted so that a few dozen
corrections outweigh the generic examples they contradict. Quality is judged on the
user's own mail by stratified cross-validation (each fold's model never saw the messages
it is scored on), against the bundled model on the same messages, which never saw any
of them either. The current model is not the yardstick: if it was trained on this mail,
its score on it would flatter it.

Owns the training steps and their progress reporting; printing belongs to the CLI, which
hands in a ``Progress`` callback (``ProgressDisplay`` renders one onto a stream).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from notnow.classifier import dataset, model
from notnow.errors import MessageError, UserError

logger = logging.getLogger(__name__)

# progress(step, done, total): called with done=0 when a step starts, then as it advances.
Progress = Callable[[str, int, int], None]


def no_progress(step: str, done: int, total: int) -> None:
    """A ``Progress`` that shows nothing (library use, tests)."""


@dataclass
class Metrics:
    true_positive: int = 0
    false_positive: int = 0
    true_negative: int = 0
    false_negative: int = 0
    loss_sum: float = 0.0  # sum of -ln(probability given to the true label)
    worst: list[tuple[float, str, str]] = field(default_factory=list)  # (error, origin, label)

    @property
    def count(self) -> int:
        return self.true_positive + self.false_positive + self.true_negative + self.false_negative

    @property
    def errors(self) -> int:
        return self.false_positive + self.false_negative

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

    @property
    def log_loss(self) -> float:
        return self.loss_sum / self.count if self.count else 0.0

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
        # Clipped as scikit-learn's log_loss does, so one confident miss is not infinite.
        self.loss_sum -= math.log(min(max(1.0 - error, 1e-15), 1.0))
        self.worst.append((error, origin, label))

    def merge(self, other: Metrics) -> None:
        self.true_positive += other.true_positive
        self.false_positive += other.false_positive
        self.true_negative += other.true_negative
        self.false_negative += other.false_negative
        self.loss_sum += other.loss_sum
        self.worst += other.worst

    def summary(self) -> str:
        return (
            f"precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}  "
            f"FP {self.false_positive}  FN {self.false_negative}  log loss {self.log_loss:.3f}"
        )

    def report(self, title: str, worst: int = 5) -> str:
        lines = [
            f"{title}: {self.summary()}",
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
    progress: Progress = no_progress,
) -> Metrics:
    """Each fold: train on corpus + the other folds of the user's mail, score this fold."""
    from sklearn.model_selection import StratifiedKFold

    labels = [example.label for example in user]
    smallest = min(labels.count(label) for label in dataset.LABELS)
    folds = min(folds, smallest)
    metrics = Metrics()
    if folds < 2:
        return metrics
    step = f"cross-validating on your mail ({folds} folds)"
    progress(step, 0, folds)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for number, (train_index, test_index) in enumerate(splitter.split(user, labels), 1):
        train_user = [user[i] for i in train_index]
        classifier = fit(corpus, train_user)
        metrics.merge(evaluate(classifier, [user[i] for i in test_index]))
        progress(step, number, folds)
    return metrics


def fit(corpus: Sequence[dataset.Example], user: Sequence[dataset.Example]) -> model.Classifier:
    """The model `notnow train` saves: the corpus plus the user's mail, weighted."""
    weight = user_weight(len(user), len(corpus))
    weights = [1.0] * len(corpus) + [weight] * len(user)
    return model.train([*corpus, *user], weights)


def read_user_mail(
    directories: Sequence[Path], progress: Progress = no_progress
) -> list[dataset.Example]:
    """The labelled mail in each ``DIR/rejection`` and ``DIR/other``, every message
    checked to parse, so that a bad file is named before the long steps start."""
    from notnow.message import parse

    examples: list[dataset.Example] = []
    for directory in directories:
        examples += dataset.read_labelled(directory)
    step = "reading your mail"
    if examples:
        progress(step, 0, len(examples))
    unreadable: list[str] = []
    for number, example in enumerate(examples, 1):
        try:
            parse(example.raw)
        except MessageError as e:
            unreadable.append(f"{example.origin}: {e}")
        progress(step, number, len(examples))
    if unreadable:
        raise UserError("some labelled messages cannot be read; remove them", unreadable)
    return examples


def run(args: Any, progress: Progress = no_progress) -> str:
    """The whole `notnow train` command; returns the report to print."""
    user = read_user_mail(args.data, progress)
    if args.from_imap:
        step = "reading the training folders over IMAP"
        progress(step, 0, 1)
        user += from_imap(args.config)
        progress(step, 1, 1)
    if not user:
        raise UserError(
            "nothing to train on: give --data DIR (with rejection/ and other/) or --from-imap"
        )
    counts = {label: sum(1 for e in user if e.label == label) for label in dataset.LABELS}
    missing = [label for label, count in counts.items() if count == 0]
    if missing:
        raise UserError(
            f"training needs examples of both kinds; none labelled {' or '.join(missing)}"
        )
    corpus = dataset.bundled()
    out = args.out or model.user_model_path()
    lines = [
        f"training on {len(corpus)} corpus messages and {len(user)} of yours "
        f"({counts['rejection']} rejection, {counts['other']} other; "
        f"each of yours weighs {user_weight(len(user), len(corpus)):.1f})"
    ]
    step = "loading the bundled model"
    progress(step, 0, 1)
    bundled = model.bundled()
    progress(step, 1, 1)
    old_metrics = evaluate(bundled, user)
    new_metrics = cross_validate(corpus, user, progress=progress)
    compared = new_metrics.count > 0
    if compared:
        lines.append(new_metrics.report("new model, cross-validated on your mail"))
        lines.append(old_metrics.report("bundled model on the same mail (never trained on it)"))
        lines.append(verdict(new_metrics, old_metrics))
    else:
        lines.append(
            "too few of your messages to cross-validate (need at least 2 of each label): "
            "the new model's quality on your mail is not known"
        )
        lines.append(old_metrics.report("bundled model on your mail"))
    current = out if out.is_file() else None
    if current is not None:
        lines.append(
            f"the model at {current} is not compared: if it was trained on this mail, "
            "its score on it would flatter it"
        )
    step = "training the final model on all of your mail"
    progress(step, 0, 1)
    classifier = fit(corpus, user)
    progress(step, 1, 1)
    classifier.metadata["user_examples"] = len(user)
    if compared:
        classifier.metadata["cv"] = {
            "precision": new_metrics.precision,
            "recall": new_metrics.recall,
            "f1": new_metrics.f1,
            "log_loss": new_metrics.log_loss,
        }
    if compared and new_metrics.f1 + 1e-9 < old_metrics.f1 and not args.force:
        lines.append(
            f"kept the current model: the new one scores lower than the bundled one on your "
            f"mail (F1 {new_metrics.f1:.3f} < {old_metrics.f1:.3f}); use --force to replace it"
        )
        return "\n".join(lines)
    step = "saving the model"
    progress(step, 0, 1)
    model.save(classifier, out)
    progress(step, 1, 1)
    lines.append(f"saved the new model to {out}")
    return "\n".join(lines)


def verdict(new: Metrics, old: Metrics) -> str:
    """One honest sentence: is the new model better on the user's mail than the bundled?"""
    figures = (
        f"errors {old.errors} -> {new.errors} of {new.count}, F1 {old.f1:.3f} -> {new.f1:.3f}, "
        f"log loss {old.log_loss:.3f} -> {new.log_loss:.3f}"
    )
    if new.f1 > old.f1 + 1e-9 and new.errors < old.errors:
        return f"on your mail the new model is better than the bundled one: {figures}"
    if new.f1 + 1e-9 < old.f1:
        return f"on your mail the new model is worse than the bundled one: {figures}"
    return f"on your mail the new model is about as good as the bundled one: {figures}"


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


class ProgressDisplay:
    """Renders ``Progress`` calls onto a stream the CLI gives it (stderr).

    On a terminal: one bar per step, redrawn in place with ``\\r`` (step, n/total,
    seconds since the step started), ended with a newline when the step is done.
    Elsewhere (a pipe, journald): one plain line when each step starts, no control
    characters.
    """

    def __init__(
        self,
        stream: TextIO,
        clock: Callable[[], float] = time.monotonic,
        width: int = 20,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._width = width
        self._terminal = stream.isatty()
        self._step: str | None = None
        self._started = 0.0
        self._drawn = 0  # length of the bar line on screen, to blank leftovers
        self._open = False  # a bar is drawn without its final newline

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self._step:
            self._close()
            self._step = step
            self._started = self._clock()
            self._drawn = 0
            if not self._terminal:
                self._stream.write(f"notnow: {step} ...\n")
                self._stream.flush()
        if not self._terminal:
            return
        total = max(total, 1)
        done = min(max(done, 0), total)
        filled = self._width * done // total
        bar = "#" * filled + "-" * (self._width - filled)
        elapsed = self._clock() - self._started
        line = f"notnow: {step} [{bar}] {done}/{total} {elapsed:.0f}s"
        self._stream.write("\r" + line + " " * max(0, self._drawn - len(line)))
        self._drawn = len(line)
        self._open = True
        if done == total:
            self._close()
        self._stream.flush()

    def close(self) -> None:
        """End a bar left unfinished (the command failed mid-step)."""
        self._close()
        self._stream.flush()

    def _close(self) -> None:
        if self._open:
            self._stream.write("\n")
            self._open = False
