"""Keep BLAS single-threaded while implicit runs its own thread pool.

implicit parallelises training over users with OpenMP and calls BLAS inside each thread; a
multi-threaded OpenBLAS underneath oversubscribes the cores (implicit warns about it with a
RuntimeWarning when a model is created). The limit is process-wide, so it only holds for the
duration of a `with` block, never for the whole process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit every loaded BLAS library to one thread inside the block."""
    # implicit (imported by the caller) has loaded numpy's and scipy's BLAS by now; a library
    # loaded after this point would not be limited.
    with threadpool_limits(limits=1, user_api="blas"):
        yield
