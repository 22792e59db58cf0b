"""Planning the intermediate buffers of a compiled function from the values' lifetimes.

Every array a kernel writes and only later kernels read lives from the step that writes it
to the last step that reads it. Values whose lifetimes do not overlap can share memory, so
the plan packs them into a few slots, allocated once per compiled function and reused by
every call. (A value written and read in the same step, like a matrix product feeding its
epilogue, overlaps everything else written in that step.) Outputs are never planned: the
caller keeps them, so each call returns new arrays.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Lifetime:
    node: int
    nbytes: int
    first: int      # step that writes it
    last: int       # last step that reads it


@dataclass
class BufferPlan:
    slot_of: dict           # node -> slot index
    slot_bytes: list        # size of each slot
    unshared_bytes: int     # what the planned values would take without sharing

    @property
    def planned_bytes(self):
        return sum(self.slot_bytes)

    def allocate(self, specs):
        """One array per planned node ({node: Spec}), as views of freshly allocated slots."""
        slots = [np.empty(max(n, 1), np.uint8) for n in self.slot_bytes]
        arrays = {}
        for node, slot in self.slot_of.items():
            spec = specs[node]
            nbytes = int(np.prod(spec.shape)) * spec.dtype.itemsize
            arrays[node] = slots[slot][:nbytes].view(spec.dtype).reshape(spec.shape)
        return arrays


def plan_buffers(lifetimes):
    """Greedy best fit in order of first write: reuse the smallest free slot that is big
    enough, else grow the largest free one, else open a new slot."""
    slot_bytes, busy_until, slot_of = [], [], {}
    for life in sorted(lifetimes, key=lambda l: (l.first, -l.nbytes, l.node)):
        free = [s for s in range(len(slot_bytes)) if busy_until[s] < life.first]
        fitting = [s for s in free if slot_bytes[s] >= life.nbytes]
        if fitting:
            slot = min(fitting, key=lambda s: slot_bytes[s])
        elif free:
            slot = max(free, key=lambda s: slot_bytes[s])
            slot_bytes[slot] = life.nbytes
        else:
            slot = len(slot_bytes)
            slot_bytes.append(life.nbytes)
            busy_until.append(-1)
        busy_until[slot] = life.last
        slot_of[life.node] = slot
    return BufferPlan(slot_of, slot_bytes, sum(l.nbytes for l in lifetimes))
