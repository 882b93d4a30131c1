"""Stop requests: what the first and the second Ctrl-C do, in-process and without timing."""

from __future__ import annotations

import signal

import pytest

from cnnctl.training.run import _StopRequests


def test_first_request_asks_politely_and_second_stops_at_once():
    said = []
    stops = _StopRequests(lambda line, kind: said.append(line))
    stops.begin("training")
    stops.handle(signal.SIGINT, None)
    assert stops.requested() and "Ctrl-C again" in said[0]
    with pytest.raises(KeyboardInterrupt):
        stops.handle(signal.SIGINT, None)


def test_second_request_waits_for_a_write_in_progress_to_finish():
    stops = _StopRequests(lambda line, kind: None)
    stops.begin("training")
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


def test_during_set_up_a_request_stops_at_once_but_lets_a_write_finish():
    stops = _StopRequests(lambda line, kind: None)
    with pytest.raises(KeyboardInterrupt):
        stops.handle(signal.SIGTERM, None)
    written = []
    with pytest.raises(KeyboardInterrupt):
        with stops.shield():  # claiming the folder and writing its config
            stops.handle(signal.SIGINT, None)
            written.append("config")
    assert written == ["config"]


def test_while_finishing_the_first_request_says_what_is_left_and_the_second_stops():
    said = []
    stops = _StopRequests(lambda line, kind: said.append(line))
    stops.begin("training")
    stops.handle(signal.SIGINT, None)  # during the last step
    stops.begin("finishing")
    assert not stops.requested()  # training is over: nothing polls the request now
    assert "saving and testing the model first" in said[-1]
    with pytest.raises(KeyboardInterrupt):
        stops.handle(signal.SIGINT, None)
