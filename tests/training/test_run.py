"""Stop requests: what the first and the second Ctrl-C do, in-process and without timing."""

from __future__ import annotations

import signal

import pytest

from cnnctl.training.run import _StopRequests


def test_first_request_asks_politely_and_second_stops_at_once():
    said = []
    stops = _StopRequests(lambda line, kind: said.append(line))
    stops.handle(signal.SIGINT, None)
    assert stops.requested() and "Ctrl-C again" in said[0]
    with pytest.raises(KeyboardInterrupt):
        stops.handle(signal.SIGINT, None)


def test_second_request_waits_for_a_write_in_progress_to_finish():
    stops = _StopRequests(lambda line, kind: None)
    stops.handle(signal.SIGINT, None)
    written = []
    with pytest.raises(KeyboardInterrupt):
        with stops.shield():
            with stops.shield():  # nested writes (a checkpoint's two files) finish as one
                stops.handle(signal.SIGINT, None)
                written.append("arrays")
            written.append("state")
    assert written == ["arrays", "state"]
    with pytest.raises(KeyboardInterrupt):  # and once out of the shield, a further request stops at once
        stops.handle(signal.SIGINT, None)
