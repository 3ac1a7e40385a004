"""Property-based: acs_verdict never raises, whatever a host or a user gives it."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import STATUSES, evaluate

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
KEYS = ["os_name", "os_version", "ubr", "installation_type", "display_version", "hotfixes", "root_ca_present",
        "root_auto_update_disabled", "offline", "esu", "reboot_pending", "agents", "rollup_builds",
        "pending_rollup_builds", "architecture", "kernel_version"]
PLAUSIBLE = {
    "os_version": st.sampled_from(["10.0.17763", "10.0.19044.1288", "6.3.9600", "6.1.7601", "5.2.3790", "6.2.9200",
                                   "10.0.22631.1", "1.2.3", ""]) | st.text(max_size=12),
    "ubr": st.integers(-5, 100000) | st.none() | st.text(max_size=6),
    "hotfixes": st.lists(st.sampled_from(["KB5006714", "5005625", "kb5006743", "File 1", ""]) | JSON, max_size=4),
    "agents": st.lists(st.fixed_dictionaries({"product": JSON, "version": JSON, "service_state": JSON}) | JSON,
                       max_size=3),
}

# Digits a host may send that are not ASCII: superscripts (str.isdigit accepts them, int() does not),
# Arabic-Indic, fullwidth and Bengali digits (int() accepts them).
DIGITS = "0123456789" + "\u00b2\u00b3\u00b9\u2074" + "\u0660\u0661\u0662\u0669" + "\uff10\uff11\uff12" + "\u09e9"
RECORDS = 20_000
EXAMPLES = 200     # each example seeds a generator of RECORDS // EXAMPLES records (Hypothesis draws the seeds)


def _number(rnd) -> str:
    return "".join(rnd.choice(DIGITS) for _index in range(rnd.randint(1, 6)))


def _version(rnd) -> str:
    prefix = rnd.choice(["10.0.", "6.3.", "6.1.", "6.0.", "5.2.", ""])
    return prefix + ".".join(_number(rnd) for _index in range(rnd.randint(1, 4)))


def _wrong(rnd, depth: int = 0):
    """A value of the wrong type, possibly nested."""
    kind = rnd.randint(0, 7 if depth < 3 else 4)
    if kind == 0:
        return None
    if kind == 1:
        return rnd.choice([True, False])
    if kind == 2:
        return rnd.randint(-2**70, 2**70)
    if kind == 3:
        return rnd.choice([float("nan"), float("inf"), -0.0, 1.0, 2.5])
    if kind == 4:
        return _number(rnd)
    if kind == 5:
        return [_wrong(rnd, depth + 1) for _index in range(rnd.randint(0, 3))]
    if kind == 6:
        return {_number(rnd): _wrong(rnd, depth + 1) for _index in range(rnd.randint(0, 2))}
    return ({"product": _wrong(rnd, depth + 1)},)


def _field(rnd, key: str):
    if rnd.random() < 0.25:
        return _wrong(rnd)
    if key == "os_name":
        return rnd.choice(["Windows Server 2019 Standard", "Windows 10 Pro", "Windows Server 2012 R2 Standard",
                           "Windows 7 Professional", "Windows Server 2008 Standard", "Windows XP " + _number(rnd)])
    if key in ("os_version", "kernel_version"):
        return _version(rnd)
    if key == "ubr":
        return rnd.choice([_number(rnd), rnd.randint(-5, 2**40), " 2210 "])
    if key == "installation_type":
        return rnd.choice(["Server", "Client", "Server Core", "\u30b5\u30fc\u30d0\u30fc"])
    if key == "display_version":
        return rnd.choice(["21H2", "1809", "2\uff11H2", _number(rnd)])
    if key == "hotfixes":
        return [rnd.choice(["KB5006714", "KB5006743", "KB5006736", "KB" + _number(rnd), _wrong(rnd)])
                for _index in range(rnd.randint(0, 4))]
    if key in ("rollup_builds", "pending_rollup_builds"):
        return [rnd.choice(["9600.20144.1.5", "7601.25740", _version(rnd), _wrong(rnd)]) for _index in range(rnd.randint(0, 3))]
    if key == "agents":
        return [{"product": rnd.choice(["apex_one", "Trend Micro Deep Security Agent", "officescan", _wrong(rnd)]),
                 "version": rnd.choice(["14.0.0.11960", "9.6.2.7723", _version(rnd), _wrong(rnd)]),
                 "service_state": rnd.choice(["Running", "StopPending", "paused", "missing", _wrong(rnd)])}
                for _index in range(rnd.randint(0, 2))]
    if key == "architecture":
        return rnd.choice(["AMD64", "x86", "ARM64"])
    return rnd.choice([True, False, None, "yes", "No", " on ", "0", "1", 1, 0, 2, 1.0, "maybe", "", "\uff12"])


def hostile_record(rnd) -> dict:
    return {key: _field(rnd, key) for key in KEYS if rnd.random() < 0.7}


def _check(verdict):
    assert verdict["status"] in STATUSES
    assert isinstance(verdict["reasons"], list) and verdict["reasons"]
    assert verdict["ready"] is (verdict["status"] == "ready")


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_arbitrary_json_never_raises(value):
    _check(evaluate(value))


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={key: PLAUSIBLE.get(key, JSON) for key in KEYS}))
def test_evidence_shaped_input_never_raises(evidence):
    _check(evaluate(evidence))
    _check(evaluate(evidence, policy_21h2="lenient"))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.integers(0, 2**64), st.sampled_from(["strict", "lenient"]))
def test_twenty_thousand_hostile_records_never_raise(seed, policy):
    """Non-ASCII digits in numbers, versions and builds, and wrong types anywhere, give a verdict."""
    rnd = random.Random(seed)
    for _index in range(RECORDS // EXAMPLES):
        evidence = hostile_record(rnd)
        try:
            _check(evaluate(evidence, policy_21h2=policy))
        except Exception as exc:
            raise AssertionError(f"evaluate raised {exc!r} for {evidence!r}") from exc


def test_superscript_digits_are_unusable_not_fatal():
    # "2²".isdigit() is True, int("2²") raises: this record raised before.
    verdict = evaluate({"os_version": "10.0.17763", "ubr": "2²"})
    assert verdict["status"] == "unknown"
    assert any("ubr" in reason for reason in verdict["reasons"])
    verdict = evaluate({"os_version": "6.3.9600", "hotfixes": [], "rollup_builds": ["9600.2014²"],
                        "agents": [{"product": "apex_one", "version": "14.0.1²"}]})
    assert verdict["status"] == "needs_kb"


def test_non_ascii_digits_are_no_version():
    verdict = evaluate({"os_version": "١٠.٠.١٧٧٦٣", "ubr": "٢٢١٠"})
    assert verdict["status"] == "unknown"
