"""The watcher's wake-up: one flag that threads wait on and select() watches."""

from __future__ import annotations

import threading

from notnow.daemon.loop import Wakeup
from notnow.mailbox.base import readable


def test_a_set_wakeup_makes_its_pipe_readable_and_stays_set() -> None:
    wakeup = Wakeup()
    try:
        assert not wakeup.is_set()
        assert readable([wakeup.fileno()], 0) == set()
        wakeup.set()
        wakeup.set()  # twice is harmless
        assert wakeup.is_set()
        assert wakeup.wait(0)
        assert readable([wakeup.fileno()], 0) == {wakeup.fileno()}
        assert readable([wakeup.fileno()], 0) == {wakeup.fileno()}, "never drained"
    finally:
        wakeup.close()


def test_a_thread_asleep_in_select_wakes_when_another_sets_it() -> None:
    wakeup = Wakeup()
    woke: list[set[int]] = []
    sleeper = threading.Thread(
        target=lambda: woke.append(readable([wakeup.fileno()], None)), daemon=True
    )
    sleeper.start()
    wakeup.set()
    sleeper.join(timeout=30)
    try:
        assert not sleeper.is_alive()
        assert woke == [{wakeup.fileno()}]
    finally:
        wakeup.close()
