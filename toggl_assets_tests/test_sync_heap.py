"""The collector is kept off older objects while pages stream through, and the process is left as it was."""

import gc
import weakref

from toggl_assets.sync.heap import older_objects_frozen


class Node:
    """A container the collector tracks; two of them pointing at each other are garbage only it can free."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    """Make a reference cycle nothing else points at; returns a weak reference that dies with it."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_older_objects_are_out_of_reach_inside_the_block_and_back_after_it() -> None:
    assert gc.get_freeze_count() == 0
    older = cycle()  # garbage made before the block: frozen with the rest, so no collection inside frees it
    with older_objects_frozen():
        assert gc.get_freeze_count() > 0
        newer = cycle()  # garbage made inside the block: still collected there
        gc.collect()
        assert newer() is None
        assert older() is not None
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert older() is None


def test_the_freeze_ends_when_the_block_fails() -> None:
    try:
        with older_objects_frozen():
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_them_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with older_objects_frozen():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
