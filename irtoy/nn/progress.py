"""What `Model.fit` prints while it trains, by its `verbose` level (Keras's levels):

    0   nothing
    1   a progress bar for the running epoch, updated in place on one line of a terminal, and a
        summary line for a handful of epochs: the first, the last and every k-th between them,
        so a training of 60 short epochs prints six lines, not 60 bars. Where the output is not
        a terminal (a log file, a notebook, a test capturing it), only those summary lines.
    2   one summary line per epoch, and no bar

A summary line reads `epoch 12/60: 15 batches in 0.03 s, loss 0.4123, accuracy 0.8333`, with
`val_loss` and `val_accuracy` when fit has validation data. Everything goes to standard output.
"""
import math
import sys

from tqdm import tqdm

from irtoy.errors import IrtoyError

KEPT_LINES = 5      # verbose=1 keeps the first epoch's line and about this many more


class Progress:
    """Told by fit when epochs and batches start and end; prints what `verbose` asks for."""

    def __init__(self, verbose, epochs):
        if isinstance(verbose, bool) or verbose == "auto":      # "auto" is Keras's name for its default
            verbose = 1 if verbose == "auto" else int(verbose)
        if verbose not in (0, 1, 2):
            raise IrtoyError(f"fit: verbose must be 0 (silent), 1 or \"auto\" (a progress bar and a handful of "
                             f"lines) or 2 (one line per epoch), got {verbose!r}")
        self.verbose, self.epochs = verbose, epochs
        self.out = sys.stdout
        self.live = verbose == 1 and getattr(self.out, "isatty", lambda: False)()
        self.every = max(1, math.ceil(epochs / KEPT_LINES))
        self.bar = None

    def start_epoch(self, epoch, batches):
        """Epoch `epoch` (1-based, of this fit) begins, with `batches` batches."""
        if self.live:
            self.bar = tqdm(total=batches, desc=f"epoch {epoch}/{self.epochs}", unit="batch", file=self.out,
                            leave=False, dynamic_ncols=True)

    def batch_done(self, metrics):
        """One more batch trained; `metrics` ({"loss": ..., "accuracy": ...}) so far this epoch."""
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()}, refresh=False)
            self.bar.update(1)

    def end_epoch(self, epoch, batches, seconds, metrics):
        """Epoch `epoch` is done: clear its bar, and print its summary if it is one to keep."""
        self.stop()
        if self.verbose == 2 or (self.verbose == 1 and self.keeps(epoch)):
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if v is not None)
            print(f"epoch {epoch}/{self.epochs}: {batches} batches in {seconds:.2f} s, {shown}", file=self.out,
                  flush=True)

    def keeps(self, epoch):
        """Whether verbose=1 keeps epoch `epoch`'s line: the first, the last, every k-th."""
        return epoch == 1 or epoch == self.epochs or epoch % self.every == 0

    def stop(self):
        """Clear the bar (also when training stops with an error)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
