"""The training log: CSV/JSON/plot written per epoch, moving average, and the state a resume restores."""

from __future__ import annotations

import csv
import json

import pytest

from totalseg.training.progress import EpochRecord, TrainingLog


def record(epoch, dice, ema):
    return EpochRecord(epoch, 1.0 - epoch / 10, 0.9 - epoch / 10, [dice, float("nan")], dice, ema, 0.01, 2.5, 10)


def test_moving_average_and_files(tmp_path):
    log = TrainingLog()
    assert log.next_ema(0.5) == 0.5
    log.records.append(record(0, 0.5, 0.5))
    assert log.next_ema(0.9) == pytest.approx(0.9 * 0.5 + 0.1 * 0.9)
    log.records.append(record(1, 0.9, log.next_ema(0.9)))
    log.write(tmp_path)
    rows = list(csv.DictReader((tmp_path / "training_log.csv").open()))
    assert [r["epoch"] for r in rows] == ["0", "1"] and float(rows[1]["ema_fg_dice"]) == pytest.approx(0.54)
    assert json.loads((tmp_path / "training_log.json").read_text())[1]["mean_fg_dice"] == 0.9
    assert (tmp_path / "progress.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_state_round_trip():
    log = TrainingLog([record(0, 0.4, 0.4), record(1, 0.6, 0.42)])
    again = TrainingLog.from_state(log.to_state())
    assert again.records[1].ema_fg_dice == 0.42 and again.records[0].pseudo_dice[0] == 0.4
