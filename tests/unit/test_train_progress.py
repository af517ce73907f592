"""How `notnow train` shows progress: a redrawn bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io

from notnow.classifier.train import ProgressDisplay


class Terminal(io.StringIO):
    """What stderr looks like when it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def screen(text: str) -> list[str]:
    """What a terminal shows: each ``\\r`` returns to the start of the line."""
    lines = []
    for line in text.split("\n"):
        shown = ""
        for part in line.split("\r"):
            shown = part + shown[len(part) :]
        lines.append(shown.rstrip())
    return lines


def test_terminal_bar_is_redrawn_in_place_with_step_count_and_seconds() -> None:
    stream, clock = Terminal(), Clock()
    progress = ProgressDisplay(stream, clock=clock, width=10)
    progress("cross-validating", 0, 5)
    clock.now += 31.4
    progress("cross-validating", 2, 5)
    output = stream.getvalue()
    assert "\n" not in output, "an unfinished step stays on one line"
    assert output.count("\r") == 2
    assert screen(output) == ["notnow: cross-validating [####------] 2/5 31s"]


def test_terminal_step_ends_with_a_newline_and_the_next_starts_its_own_clock() -> None:
    stream, clock = Terminal(), Clock()
    progress = ProgressDisplay(stream, clock=clock, width=4)
    progress("reading your mail", 0, 2)
    clock.now += 2
    progress("reading your mail", 2, 2)
    clock.now += 50
    progress("training the final model", 0, 1)
    clock.now += 7
    progress("training the final model", 1, 1)
    assert screen(stream.getvalue()) == [
        "notnow: reading your mail [####] 2/2 2s",
        "notnow: training the final model [####] 1/1 7s",
        "",
    ]


def test_a_shorter_redraw_blanks_what_the_longer_one_left() -> None:
    stream, clock = Terminal(), Clock()
    progress = ProgressDisplay(stream, clock=clock, width=4)
    progress("fold", 0, 3)
    clock.now += 1234
    progress("fold", 1, 3)
    clock.now = 100.0  # a redraw whose text is shorter than the one on screen
    progress("fold", 2, 3)
    assert screen(stream.getvalue()) == ["notnow: fold [##--] 2/3 0s"]


def test_close_ends_an_unfinished_bar() -> None:
    stream = Terminal()
    progress = ProgressDisplay(stream, clock=Clock())
    progress("saving the model", 0, 1)
    progress.close()
    progress.close()
    assert stream.getvalue().endswith("0s\n")
    assert stream.getvalue().count("\n") == 1


def test_pipe_gets_one_plain_line_per_step_and_no_control_characters() -> None:
    stream = io.StringIO()
    progress = ProgressDisplay(stream, clock=Clock())
    for done in range(4):
        progress("cross-validating on your mail (3 folds)", done, 3)
    progress("training the final model", 0, 1)
    progress("training the final model", 1, 1)
    progress.close()
    assert stream.getvalue() == (
        "notnow: cross-validating on your mail (3 folds) ...\n"
        "notnow: training the final model ...\n"
    )
