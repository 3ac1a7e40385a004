"""The restart's logic: what the host's answers mean, and when the waiting succeeds or stops, on a fake clock."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _operation, _reboot
from support.ps_grammar import check_powershell

OLD_BOOT = "20261120030000.000000+000"
NEW_BOOT = "20261129190000.000000+000"
KEYS = _reboot.SERVICING_KEYS


def answer(boot=OLD_BOOT, installer="Stopped", keys=(), shutdown=None, broken=None):
    """A document as _acs_reboot.ps1 prints it."""
    probes = [
        {"id": "reboot.boot", "ok": True, "data": {"items": [{"LastBootUpTime": boot}], "truncated": False}},
        {"id": "reboot.servicing", "ok": True,
         "data": {"TrustedInstaller": {"exists": True, "start": 3, "status": installer}}},
        {"id": "reboot.keys", "ok": True, "data": {path: name in keys for name, path in KEYS.items()}},
    ]
    if broken:
        probes = [p if p["id"] != broken else {"id": broken, "ok": False, "error": "Access denied"} for p in probes]
    return {"acs_reboot": 1, "probes": probes, "shutdown": shutdown}


class Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeHost:
    """A host on a timeline: ``timeline(now)`` returns the answer, or raises ConnectionError while it is down."""

    def __init__(self, clock, timeline, shutdown_rc=(0,)):
        self.clock = clock
        self.timeline = timeline
        self.shutdown_rc = list(shutdown_rc)
        self.restarts = []
        self.resets = 0

    def look(self):
        return self.timeline(self.clock.now)

    def restart(self, delay, message, abort_first):
        self.restarts.append((delay, message, abort_first))
        rc = self.shutdown_rc.pop(0) if self.shutdown_rc else 0
        return {**self.timeline(self.clock.now), "shutdown": {"rc": rc, "output": "", "error": None}}

    def reset(self):
        self.resets += 1


def restarting(down_at=4, up_at=20, busy_until=40, after=None):
    """Answers of a host that restarts well: old boot, down, new boot with servicing busy, then quiet."""
    def timeline(now):
        if now < down_at:
            return answer(keys=("RebootPending",))
        if now < up_at:
            raise ConnectionError("connection refused")
        if now < busy_until:
            return answer(NEW_BOOT, "Running", ("PackagesPending",))
        return after(now) if after else answer(NEW_BOOT)
    return timeline


OPTIONS = _reboot.Options(reboot_timeout=120, servicing_timeout=300, servicing_check_interval=10, pre_reboot_delay=0,
                          poll_interval=2)


def run(timeline, options=OPTIONS, shutdown_rc=(0,)):
    clock = Clock()
    host = FakeHost(clock, timeline, shutdown_rc)
    return _reboot.restart_and_wait(host, options, clock), host, clock


def test_a_host_that_restarts_and_finishes_servicing_succeeds_after_two_quiet_checks():
    result, host, clock = run(restarting())
    assert result["rebooted"] is True and result["went_down"] is True
    assert (result["boot_time_before"], result["boot_time_after"]) == ("2026-11-20T03:00:00Z", "2026-11-29T19:00:00Z")
    # Quiet at 40 s at the earliest, and once more an interval later.
    assert clock.now >= 50
    assert result["servicing_seconds"] >= 20
    assert host.restarts == [(0, OPTIONS.msg, False)]
    assert host.resets > 0


def test_one_quiet_check_between_two_busy_ones_is_not_the_end():
    def after(now):
        # Servicing pauses between two steps at 40-45 s, then works again until 70 s.
        if 40 <= now < 45 or now >= 70:
            return answer(NEW_BOOT)
        return answer(NEW_BOOT, "Running", ("RebootInProgress",))
    _result, _host, clock = run(restarting(busy_until=40, after=after))
    assert clock.now >= 80


def test_the_connection_lost_while_the_restart_is_issued_counts_as_issued():
    clock = Clock()
    host = FakeHost(clock, restarting(down_at=1))

    def restart(delay, message, abort_first):
        raise ConnectionError("connection reset by peer")
    host.restart = restart
    result = _reboot.restart_and_wait(host, OPTIONS, clock)
    assert result["boot_time_after"] == "2026-11-29T19:00:00Z"


def test_a_host_that_never_goes_down_fails_with_that_message():
    with pytest.raises(_reboot.RebootFailed, match="did not go down within the reboot timeout .120 s."):
        run(lambda now: answer())


def test_a_host_that_never_comes_back_fails_with_that_message():
    with pytest.raises(_reboot.RebootFailed, match="did not come back within the reboot timeout .120 s.") as raised:
        run(restarting(up_at=10_000))
    assert raised.value.fields["rebooted"] is True
    assert "connection refused" in str(raised.value)


def test_a_host_that_comes_back_with_the_same_boot_time_fails_with_that_message():
    def timeline(now):
        if 4 <= now < 10:
            raise ConnectionError("connection refused")
        return answer()
    with pytest.raises(_reboot.RebootFailed, match="came back with the same boot time .2026-11-20T03:00:00Z."):
        run(timeline)


def test_servicing_busy_at_the_timeout_fails_and_says_what_was_busy():
    with pytest.raises(_reboot.RebootFailed, match="servicing was still busy when the servicing timeout .300 s.") as raised:
        run(restarting(busy_until=10_000))
    assert "TrustedInstaller Running; PackagesPending present" in str(raised.value)
    assert raised.value.fields["boot_time_after"] == "2026-11-29T19:00:00Z"


def test_a_restart_still_pending_after_the_restart_fails_without_waiting_for_the_timeout():
    with pytest.raises(_reboot.RebootFailed, match="still pending a restart after the restart"):
        run(restarting(after=lambda now: answer(NEW_BOOT, keys=("RebootPending",))))


def test_an_unreadable_state_is_never_taken_for_finished():
    with pytest.raises(_reboot.RebootFailed, match="servicing was still busy") as raised:
        run(restarting(after=lambda now: answer(NEW_BOOT, broken="reboot.servicing")))
    assert "TrustedInstaller: Access denied" in str(raised.value)


def test_a_second_restart_during_servicing_is_waited_for():
    later = "20261129191000.000000+000"

    def after(now):
        if now < 60:
            raise ConnectionError("connection refused")
        return answer(later)
    result, _host, _clock = run(restarting(after=after))
    assert result["boot_time_after"] == "2026-11-29T19:10:00Z"


def test_a_restart_scheduled_by_someone_else_is_aborted_and_replaced():
    result, host, _clock = run(restarting(), shutdown_rc=(1190, 0))
    assert [abort for _delay, _msg, abort in host.restarts] == [False, True]
    assert any("already scheduled" in warning for warning in result["warnings"])


def test_a_restart_already_under_way_is_waited_for_with_a_warning():
    result, host, _clock = run(restarting(), shutdown_rc=(1115,))
    assert len(host.restarts) == 1
    assert any("1115" in warning for warning in result["warnings"])


def test_a_refused_shutdown_fails_and_nothing_is_waited_for():
    with pytest.raises(_reboot.RebootFailed, match="exit code 5") as raised:
        run(restarting(), shutdown_rc=(5,))
    assert raised.value.fields["rebooted"] is False


def test_an_unreadable_boot_time_before_means_no_restart():
    clock = Clock()
    host = FakeHost(clock, lambda now: answer(boot="yesterday"))
    with pytest.raises(_reboot.RebootFailed, match="could not be read before the restart"):
        _reboot.restart_and_wait(host, OPTIONS, clock)
    assert host.restarts == []


@pytest.mark.parametrize("value, expected", [
    ("20261120030000.000000+000", dt.datetime(2026, 11, 20, 3, tzinfo=dt.timezone.utc)),
    ("20261120030000.500000+060", dt.datetime(2026, 11, 20, 2, tzinfo=dt.timezone.utc)),
    ("20261120030000.000000-300", dt.datetime(2026, 11, 20, 8, tzinfo=dt.timezone.utc)),
    ("20261320030000.000000+000", None),
    ("", None), (None, None), (20261120, None), ("2026-11-20T03:00:00Z", None),
])
def test_boot_times_are_read_as_wmi_dates(value, expected):
    assert _reboot.parse_boot_time(value) == expected


@pytest.mark.parametrize("document", [
    {}, {"probes": "x"}, {"probes": [1, None, {"id": 3}]},
    {"probes": [{"id": "reboot.boot", "ok": True, "data": {"items": "x"}}]},
    {"probes": [{"id": "reboot.servicing", "ok": True, "data": {"TrustedInstaller": {"status": 4}}}]},
    {"probes": [{"id": "reboot.keys", "ok": True, "data": {"x": 1}}]},
])
def test_hostile_answers_read_as_unknown_and_never_raise(document):
    state = _reboot.read_state(document)
    assert not state.quiet and state.problems


def test_a_host_without_trusted_installer_has_no_servicing_running():
    document = answer(NEW_BOOT)
    document["probes"][1]["data"] = {"TrustedInstaller": {"exists": False}}
    assert _reboot.read_state(document).quiet


@pytest.mark.parametrize("stdout, message", [
    ("", "did not run the restart operation"),
    ('{"acs_reboot":1,', "not JSON"),
    ('{"acs_reboot":2}', "another protocol"),
])
def test_unreadable_output_is_an_operation_output_error(stdout, message):
    with pytest.raises(_operation.OperationOutputError, match=message):
        _reboot.parse_operation_output(1, stdout, "")


def test_the_answer_is_found_after_other_output():
    document = answer()
    parsed = _reboot.parse_operation_output(0, "warning text\r\n" + json.dumps(document) + "\r\n", "")
    assert _reboot.read_state(parsed).boot == "2026-11-20T03:00:00Z"


@pytest.mark.parametrize("shutdown, kind", [
    (None, "failed"), ({"rc": 0}, "issued"), ({"rc": 1115}, "in_progress"), ({"rc": 1190}, "scheduled"),
    ({"rc": 5, "output": "Access is denied.(5)"}, "failed"), ({"error": "not found"}, "failed"),
])
def test_shutdown_exit_codes(shutdown, kind):
    assert _reboot.shutdown_outcome({"shutdown": shutdown}).kind == kind


def test_the_restart_message_is_printable_ascii_within_shutdowns_limit():
    assert _reboot.restart_message('Neustart "jetzt" $(evil) \u00fcber') == "Neustart jetzt (evil) ber"
    assert len(_reboot.restart_message("x" * 600)) == 512
    assert _reboot.restart_message("\u00e9\u00e9") == _reboot.DEFAULT_MESSAGE


@pytest.mark.parametrize("restart", [False, True])
def test_the_operation_script_is_powershell_2_safe(restart):
    script = _reboot.render_operation(restart=restart, delay=5, message="Restart now")
    findings = [f for f in check_powershell(script) if f.rule != "non_ascii"]
    assert not findings, findings
    assert "Invoke-AcsReboot -Operation $AcsReboot" in script
