"""Keep BLAS single-threaded while implicit runs its own thread pool.

implicit parallelises over users with OpenMP and calls BLAS inside each thread; a
multi-threaded OpenBLAS underneath oversubscribes the cores (implicit warns about it with a
RuntimeWarning when a model is created, and fitting or batch scoring slows down many times).
The limit is process-wide, so it only holds for the duration of a `with` block, never for
the whole process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    # Created on first use: implicit (imported by every caller) has loaded numpy's and scipy's
    # BLAS by then. Reusing one controller makes entering a limit cost microseconds.
    return ThreadpoolController()


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit every loaded BLAS library to one thread inside the block."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
