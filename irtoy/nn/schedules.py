"""Learning-rate schedules: functions of the epoch number (counting from 0) to a rate.

An optimizer given a plain number uses it throughout; given a schedule, it asks for the
rate at the start of every epoch, in Python, so the compiled step never changes.
"""
import math


class Schedule:
    def config(self):
        return dict(vars(self))

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items())})"


class Constant(Schedule):
    def __init__(self, lr):
        self.lr = float(lr)

    def __call__(self, epoch):
        return self.lr


class StepDecay(Schedule):
    """lr * gamma ** (epoch // every): drop by a factor every few epochs."""

    def __init__(self, lr, every, gamma=0.1):
        self.lr, self.every, self.gamma = float(lr), int(every), float(gamma)

    def __call__(self, epoch):
        return self.lr * self.gamma ** (epoch // self.every)


class ExponentialDecay(Schedule):
    """lr * gamma ** epoch."""

    def __init__(self, lr, gamma):
        self.lr, self.gamma = float(lr), float(gamma)

    def __call__(self, epoch):
        return self.lr * self.gamma ** epoch


class Cosine(Schedule):
    """Half a cosine from lr down to min_lr over `epochs` epochs."""

    def __init__(self, lr, epochs, min_lr=0.0):
        self.lr, self.epochs, self.min_lr = float(lr), int(epochs), float(min_lr)

    def __call__(self, epoch):
        progress = min(epoch, self.epochs) / self.epochs
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + math.cos(math.pi * progress))


def as_schedule(lr):
    return lr if callable(lr) else Constant(lr)
