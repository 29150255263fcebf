"""The stage clock behind the overlap of reading, inference and writing: one case predicts at a time,
the others read and write meanwhile; the lock is released however a case ends."""

import threading
import time

from totalseg.batch.runner import TIMINGS, _StageClock


def test_one_case_predicts_at_a_time_while_another_reads():
    lock = threading.Lock()
    first, second = _StageClock(lock), _StageClock(lock)
    first("load")
    first("predict")  # holds the inference slot
    entered = threading.Event()

    def second_case():
        second("load")  # reading and loading go on while the first case predicts
        second("predict")
        entered.set()

    thread = threading.Thread(target=second_case)
    thread.start()
    time.sleep(0.3)
    assert not entered.is_set()  # waiting for the slot
    first("write")  # the first case leaves inference, the second enters
    assert entered.wait(5)
    thread.join()
    second("write")
    times = second.timings()
    assert set(times) == set(TIMINGS)
    assert times["wait"] >= 0.25 and times["predict"] < 0.25
    assert first.timings()["predict"] >= 0.25


def test_a_case_failing_in_predict_frees_the_slot():
    lock = threading.Lock()
    clock = _StageClock(lock)
    clock("predict")
    clock.stop()  # what CaseRunner.run does when segment() raises
    assert lock.acquire(timeout=1)
