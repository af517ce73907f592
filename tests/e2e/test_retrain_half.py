"""Issue #3, as a user would check it: retrain with half of a labelled mailbox
(`notnow train --data A`), then judge the new and the bundled model on the other half
(`notnow classify --json`).

The mailbox is tests/data/usermail: one academic job seeker's mail, hand-written, on
which the bundled model makes about 20 mistakes in 180. The halves are the stratified
split with seed 0 that `python -m notnow.classifier.evaluate --half-split` calls
"seed 0, retrain on A", so this test and docs/quality.md report the same experiment.
The margin is small (9 -> 8 errors on half B with the model of 2026-11-22; it was
9 -> 10 with 2^20 hash buckets): if this fails after a model or corpus change, rerun
the half-split experiment before deciding whether retraining stopped helping.
"""

from __future__ import annotations

import json
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
    truth: dict[str, str]  # file name -> label, for half B
    retrained: dict[str, str]  # file name -> label given by the retrained model
    bundled: dict[str, str]  # file name -> label given by the bundled model


def write_half(examples: list[dataset.Example], folder: Path) -> dict[str, str]:
    truth = {}
    for example in examples:
        source = Path(example.origin)
        (folder / example.label).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / example.label / source.name)
        truth[source.name] = example.label
    return truth


def labels(stdout: str) -> dict[str, str]:
    rows = [json.loads(line) for line in stdout.splitlines()]
    return {Path(row["source"]).name: row["label"] for row in rows}


def errors(truth: dict[str, str], given: dict[str, str]) -> int:
    assert given.keys() == truth.keys()
    return sum(1 for name, label in truth.items() if given[name] != label)


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
        write_half(half_a, root / "A")
        truth = write_half(half_b, root / "B")
        out = root / "model.skops"

        trained = notnow("train", "--data", str(root / "A"), "--out", str(out), timeout=1800)
        assert trained.returncode == 0, trained.stderr
        assert out.is_file()
        retrained = notnow("classify", "--json", "--model", str(out), str(root / "B"), check=True)
        bundled = notnow("classify", "--json", str(root / "B"), check=True)
        yield Experiment(
            trained.stdout, trained.stderr, truth, labels(retrained.stdout), labels(bundled.stdout)
        )


def test_the_bundled_model_gets_some_of_this_mail_wrong(experiment: Experiment) -> None:
    assert len(experiment.truth) == 90
    assert errors(experiment.truth, experiment.bundled) >= 5


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


def test_retraining_on_half_a_makes_fewer_errors_on_half_b(experiment: Experiment) -> None:
    before = errors(experiment.truth, experiment.bundled)
    after = errors(experiment.truth, experiment.retrained)
    assert after < before, f"bundled {before} errors, retrained {after} on half B"
