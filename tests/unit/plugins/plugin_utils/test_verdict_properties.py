"""Property-based: acs_verdict never raises, whatever JSON it is given."""

from __future__ import annotations

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
        "pending_rollup_builds", "architecture"]
PLAUSIBLE = {
    "os_version": st.sampled_from(["10.0.17763", "10.0.19044.1288", "6.3.9600", "6.1.7601", "5.2.3790", "6.2.9200",
                                   "10.0.22631.1", "1.2.3", ""]) | st.text(max_size=12),
    "ubr": st.integers(-5, 100000) | st.none() | st.text(max_size=6),
    "hotfixes": st.lists(st.sampled_from(["KB5006714", "5005625", "kb5006743", "File 1", ""]) | JSON, max_size=4),
    "agents": st.lists(st.fixed_dictionaries({"product": JSON, "version": JSON, "service_state": JSON}) | JSON,
                       max_size=3),
}


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
