"""Python runs this at start-up when ``tests/clock`` is on PYTHONPATH, which the test plugin
does only for a clock-shifted run: child processes (Celery workers, ``make run``'s supervisor,
``manage.py``) then live at the same shifted time as the tests that started them."""

import os

_shift = os.environ.get("CENTRO_TEST_CLOCK_SHIFT_SECONDS")
if _shift:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_shift), tick=True).start()
