import gc

from omnichannel.collections_gc import fewer_collections


def test_the_youngest_generation_waits_longer_inside_and_as_before_after():
    before = gc.get_threshold()
    with fewer_collections(threshold=before[0] + 12_345):
        assert gc.get_threshold() == (before[0] + 12_345, *before[1:])
    assert gc.get_threshold() == before


def test_the_threshold_comes_back_when_the_work_fails():
    before = gc.get_threshold()
    try:
        with fewer_collections():
            raise RuntimeError("the import broke")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
