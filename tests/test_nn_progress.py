"""What Model.fit prints at each `verbose` level (irtoy/nn/progress.py): nothing, a live bar
and a handful of lines, or one line per epoch; and that the examples and the demo, which
train for 40 to 60 short epochs, print a handful of lines."""
import io
import re
import sys

import numpy as np
import pytest

from irtoy import IrtoyError, nn

DATA = nn.datasets.spiral(n_per_class=10, classes=3, seed=1)      # 30 points: 2 batches of 16


def model():
    net = nn.Sequential([nn.Dense(2, 8), nn.Tanh(), nn.Dense(8, 3)])
    return nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=0.02), backend="numpy")


class Terminal(io.StringIO):
    """Standard output as a terminal: what is written is kept, and isatty() is True."""
    def isatty(self):
        return True


def lines_of(text):
    return [line for line in text.splitlines() if line.strip()]


def test_verbose_0_prints_nothing(capsys):
    model().fit(*DATA, epochs=3, batch_size=16, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_verbose_2_prints_one_line_per_epoch(capsys):
    model().fit(*DATA, epochs=12, batch_size=16, verbose=2, validation_data=DATA)
    out, err = capsys.readouterr()
    lines = lines_of(out)
    assert len(lines) == 12 and err == ""
    assert re.fullmatch(r"epoch 12/12: 2 batches in [0-9.]+ s, loss [0-9.]+, accuracy [0-9.]+, "
                        r"val_loss [0-9.]+, val_accuracy [0-9.]+", lines[-1])


def test_verbose_1_prints_a_handful_of_lines_when_not_on_a_terminal(capsys):
    model().fit(*DATA, epochs=60, batch_size=16)         # verbose=1 is the default
    out, err = capsys.readouterr()
    epochs = [int(e) for e in re.findall(r"^epoch (\d+)/60:", out, re.M)]
    assert epochs == [1, 12, 24, 36, 48, 60] and len(lines_of(out)) == 6 and err == ""
    assert "\r" not in out                                 # no bar where nothing redraws it


def test_verbose_1_on_a_terminal_updates_one_line_in_place(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    model().fit(*DATA, epochs=60, batch_size=16, verbose=1)
    text = terminal.getvalue()
    kept = text.split("\n")[:-1]       # what stays on screen: the lines that end in a newline
    assert len(kept) == 6 and kept[-1].split("\r")[-1].startswith("epoch 60/60: 2 batches")
    # the bars, drawn over each other (how often tqdm redraws within an epoch depends on time)
    assert text.count("\r") > 60 and "/2 [" in text and "batch/s" in text


def test_verbose_must_be_a_level(capsys):
    for wrong in (3, -1, "loud", 1.5):
        with pytest.raises(IrtoyError, match="verbose must be 0"):
            model().fit(*DATA, verbose=wrong)
    model().fit(*DATA, epochs=2, verbose="auto")
    model().fit(*DATA, epochs=2, verbose=True)
    assert len(lines_of(capsys.readouterr().out)) == 4


def test_the_regression_line_has_no_accuracy(capsys):
    net = nn.Sequential([nn.Dense(2, 1)])
    nn.Model(net, loss=nn.MSE(), backend="numpy").fit(DATA[0], np.zeros(30, np.float32), epochs=1, verbose=2)
    assert "accuracy" not in capsys.readouterr().out
