"""How ONNX's node tests ended, per backend: passes, and expected refusals by reason.

The node test modules add to OUTCOMES; conftest.py prints the counts at the end of every run.
Under pytest-xdist each worker process counts its own tests and sends its counts to the main
process, which adds them up before printing.
"""
import collections

OUTCOMES = collections.defaultdict(collections.Counter)   # backend -> {"passed", "specialised", reason: n}
NOT_REASONS = ("passed", "specialised", "of")


def count(backend, outcome, total, specialised=False):
    """One node test's outcome: "passed", or the reason it was (expectedly) refused."""
    OUTCOMES[backend][outcome] += 1
    OUTCOMES[backend]["specialised"] += specialised
    OUTCOMES[backend]["of"] = total


def add(counts):
    """Counts from another process (as `as_dict` gave them)."""
    for backend, outcomes in counts.items():
        total = outcomes.pop("of", 0)
        OUTCOMES[backend].update(outcomes)
        OUTCOMES[backend]["of"] = max(OUTCOMES[backend]["of"], total)


def as_dict():
    return {backend: dict(outcomes) for backend, outcomes in OUTCOMES.items()}


def summary_lines():
    for backend, outcomes in OUTCOMES.items():
        failures = {reason: n for reason, n in outcomes.items() if reason not in NOT_REASONS}
        yield (f"ONNX node tests on the {backend}: {outcomes['passed']} passed ({outcomes['specialised']} of them "
               f"compiled for the values of inputs giving shapes, axes or pads), "
               f"{sum(failures.values())} expected failures by reason (of {outcomes['of']}):")
        for reason, n in sorted(failures.items(), key=lambda item: -item[1]):
            yield f"  {n:4d}  {reason}"
