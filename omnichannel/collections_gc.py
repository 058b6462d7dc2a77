"""Fewer garbage collections during bulk work.

A Django process holds a few hundred thousand objects, and the collector's full passes walk
them all; a loop that allocates many short-lived containers (an import's parsed rows, a
campaign's requests and responses) sets off such passes so often that they cost a third of
its CPU. Within :func:`fewer_collections` the youngest generation is collected every
``threshold`` allocations instead of every 700: cyclic garbage still goes, a little later.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLD = 50_000


@contextmanager
def fewer_collections(threshold: int = BULK_THRESHOLD) -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(max(threshold, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
