import threading

import pytest

from omnichannel.ahead import ahead


def test_items_arrive_in_order_and_an_error_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise ValueError("row 3 is broken")

    seen = []
    with pytest.raises(ValueError, match="row 3"), ahead(items()) as produced:
        for item in produced:
            seen.append(item)
    assert seen == [1, 2]


def test_the_producer_runs_in_another_thread_and_at_most_depth_ahead():
    made = []
    consumer = threading.get_ident()

    def items():
        for n in range(100):
            made.append((n, threading.get_ident()))
            yield n

    with ahead(items(), depth=2) as produced:
        assert next(produced) == 0
        # One taken, two waiting in the queue, one made and blocked on putting it.
        for _ in range(50):
            threading.Event().wait(0.01)
        assert len(made) <= 4
    assert all(thread != consumer for _, thread in made)


def test_leaving_early_stops_the_producer_before_the_block_ends():
    def items():
        n = 0
        while True:
            yield n
            n += 1

    with ahead(items()) as produced:
        for n in produced:
            if n == 3:
                break
    assert [t for t in threading.enumerate() if t.name == "ahead"] == []
