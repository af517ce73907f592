"""Issue #3, as a user would check it: retrain with half of a labelled mailbox
(`notnow train --data A`), then judge the new and the bundled model on the other half
(`notnow classify --json`) — both ways round, so every message of the mailbox is judged
by a model that never saw it.

The mailbox is tests/data/usermail: one academic job seeker's mail, hand-written, on
which the bundled model makes about 20 mistakes in 180. The halves are the stratified
split with seed 0 of `python -m notnow.classifier.evaluate --half-split`, so this test
and docs/quality.md report the same experiment.

What retraining does on this mail is move the other half's scores the right way: log
loss lower in 5 of 6 splits over three seeds and overall (0.286 -> 0.243 with the
session-3 corpus), and on this seed both ways round (0.286 -> 0.265). Errors at the
draft threshold move less (66 -> 58 over three seeds; 22 -> 19 on this seed, one half
worse by one): the last test's message reports them without asserting them."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_runner import notnow

from notnow.classifier import dataset

MAILBOX = Path(__file__).resolve().parents[1] / "data" / "usermail"


@dataclass(frozen=True)
class Experiment:
    report: str  # what `notnow train` printed
    progress: str  # what it wrote to stderr (a pipe here)
    truth: dict[str, str]  # file name -> label, the whole mailbox
    # file name -> (label, score) from the model retrained on the *other* half
    retrained: dict[str, tuple[str, float]]
    bundled: dict[str, tuple[str, float]]  # file name -> (label, score), bundled model


def write_half(examples: list[dataset.Example], folder: Path) -> dict[str, str]:
    truth = {}
    for example in examples:
        source = Path(example.origin)
        (folder / example.label).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / example.label / source.name)
        truth[source.name] = example.label
    return truth


def verdicts(stdout: str) -> dict[str, tuple[str, float]]:
    rows = [json.loads(line) for line in stdout.splitlines()]
    return {Path(row["source"]).name: (row["label"], float(row["score"])) for row in rows}


def errors(truth: dict[str, str], given: dict[str, tuple[str, float]]) -> int:
    assert given.keys() == truth.keys()
    return sum(1 for name, label in truth.items() if given[name][0] != label)


def log_loss(truth: dict[str, str], given: dict[str, tuple[str, float]]) -> float:
    """Mean -ln(probability given to the true label); the JSON scores are rounded to
    four places, so they are clipped away from 0 and 1."""
    total = 0.0
    for name, label in truth.items():
        score = min(max(given[name][1], 1e-4), 1 - 1e-4)
        total -= math.log(score if label == "rejection" else 1 - score)
    return total / len(truth)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Experiment]:
    from sklearn.model_selection import train_test_split

    root = tmp_path_factory.mktemp("retrain-half")
    with pytest.MonkeyPatch.context() as patch:
        # No user model of the machine's user may stand in for the bundled one.
        for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
            patch.setenv(variable, str(root / variable.lower()))
        patch.setenv("HOME", str(root))
        patch.delenv("NOTNOW_MODEL", raising=False)
        patch.delenv("NOTNOW_CONFIG", raising=False)

        mail = dataset.read_labelled(MAILBOX)
        half_a, half_b = train_test_split(
            mail, test_size=0.5, stratify=[e.label for e in mail], random_state=0
        )
        truth = write_half(half_a, root / "A") | write_half(half_b, root / "B")
        retrained: dict[str, tuple[str, float]] = {}
        reports = {}
        for taught, judged in (("A", "B"), ("B", "A")):
            out = root / f"model-{taught}.skops"
            # --force: the model is saved even where train judges it no better, so that
            # both halves are judged whatever train decided.
            trained = notnow(
                "train", "--data", str(root / taught), "--out", str(out), "--force", timeout=1800
            )
            assert trained.returncode == 0, trained.stderr
            reports[taught] = trained
            judged_by = notnow("classify", "--json", "--model", str(out), str(root / judged))
            assert judged_by.returncode == 0, judged_by.stderr
            retrained |= verdicts(judged_by.stdout)
        bundled = notnow("classify", "--json", str(root / "A"), str(root / "B"), check=True)
        yield Experiment(
            reports["A"].stdout, reports["A"].stderr, truth, retrained, verdicts(bundled.stdout)
        )


def test_the_bundled_model_gets_some_of_this_mail_wrong(experiment: Experiment) -> None:
    assert len(experiment.truth) == 180
    assert errors(experiment.truth, experiment.bundled) >= 10


def test_train_reports_an_honest_comparison_on_the_users_mail(experiment: Experiment) -> None:
    report = experiment.report
    assert "90 of yours (35 rejection, 55 other" in report
    assert "new model, cross-validated on your mail" in report
    assert "bundled model on the same mail (never trained on it)" in report
    found = re.search(
        r"on your mail the new model is (better than|worse than|about as good as) the "
        r"bundled one: errors (\d+) -> (\d+) of 90",
        report,
    )
    assert found, report
    claim, before, after = found.group(1), int(found.group(2)), int(found.group(3))
    if claim == "better than":  # "worse" is judged on F1, which errors alone do not decide
        assert after < before
    # Piped stderr: one plain line per step, no bar redraws.
    assert "\r" not in experiment.progress
    assert "notnow: cross-validating on your mail (5 folds) ...\n" in experiment.progress
    assert "notnow: training the final model on all of your mail ...\n" in experiment.progress


def test_retraining_on_one_half_moves_the_other_halfs_scores_the_right_way(
    experiment: Experiment,
) -> None:
    truth = experiment.truth
    before, after = log_loss(truth, experiment.bundled), log_loss(truth, experiment.retrained)
    counts = (
        f"errors at the draft threshold: bundled {errors(truth, experiment.bundled)}, "
        f"retrained {errors(truth, experiment.retrained)} of {len(truth)}"
    )
    assert after < before, f"log loss: bundled {before:.3f}, retrained {after:.3f}; {counts}"
