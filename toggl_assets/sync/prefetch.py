"""Overlap fetching with loading: read the next page from Toggl while the current one is being staged."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(pages: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Yield ``pages`` while a background thread already fetches up to ``depth`` pages ahead.

    The producer thread is the only user of the iterator (and of the HTTP session behind it) while this
    generator runs. An exception in the producer is raised here, in the consumer, at the same position;
    closing this generator early stops the producer after its current page.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                if stop.is_set():
                    return
                slots.put(page)
        except BaseException as error:  # handed to the consumer, which re-raises it
            slots.put(error)
        else:
            slots.put(_DONE)

    producer = threading.Thread(target=produce, name="toggl-prefetch", daemon=True)
    producer.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on a full queue, then let it finish
            try:
                slots.get_nowait()
            except queue.Empty:
                producer.join(timeout=0.05)
