"""Questions first (`vectorstore.lanes`): a bulk batch waits while a question's requests run
and for a quiet moment after them, never longer than its patience."""

from __future__ import annotations

import threading

from vectorstore.lanes import QuestionsFirst


class Clock:
    """A clock the test moves by hand (the gate's waits are bounded by it)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def bulk_in_thread(gate: QuestionsFirst) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()
    thread = threading.Thread(target=lambda: (gate.before_bulk(), done.set()), daemon=True)
    thread.start()
    return thread, done


def test_bulk_runs_at_once_when_no_question_ran() -> None:
    gate = QuestionsFirst(quiet=10.0, patience=60.0, clock=Clock())
    thread, done = bulk_in_thread(gate)
    thread.join(10)
    assert done.is_set()


def test_bulk_waits_for_a_running_question_then_for_quiet() -> None:
    clock = Clock()
    gate = QuestionsFirst(quiet=5.0, patience=600.0, clock=clock)
    with gate.question():
        thread, done = bulk_in_thread(gate)
        assert not done.wait(0.3)  # a question is running
    assert not done.wait(0.3)  # it just ended: not quiet yet (the clock has not moved)
    clock.now += 4.0
    with gate.question():  # another question: quiet starts again from its end
        pass
    clock.now += 4.0
    assert not done.wait(0.3)  # 4 s after it, 8 s after the first: not quiet for 5 s yet
    clock.now += 1.1
    thread.join(10)
    assert done.is_set()


def test_bulk_waits_no_longer_than_its_patience() -> None:
    clock = Clock()
    gate = QuestionsFirst(quiet=1.0, patience=30.0, clock=clock)
    with gate.question():
        thread, done = bulk_in_thread(gate)
        assert not done.wait(0.3)
        clock.now += 30.0
        thread.join(10)
        assert done.is_set()  # questions keep coming: the ingest still moves
