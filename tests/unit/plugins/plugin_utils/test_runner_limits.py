"""The runner's own limits, executed by the PowerShell interpreter on fixture hosts: the output limit (every
probe after it is answered "truncated", none is dropped), the per-probe timeout (a probe that hangs is
abandoned with the time it was given, and the probes after it still run), and a key that does not exist."""

from __future__ import annotations

import json

from ansible_collections.codesign.windows.plugins.plugin_utils import _probes
from emulator.pwsh.dotnet import run_script
from emulator.windows import load_fleet

PROBES = _probes.build_probes(list(_probes.SUBSETS))


def execute(host_name: str, probes=None, **options) -> dict:
    (host,) = load_fleet([host_name])
    script = _probes.render_script(PROBES if probes is None else probes, **options)
    (output,) = run_script(host, _probes.BOOTSTRAP, input_lines=script.splitlines())
    return json.loads(output)


def test_every_probe_past_the_output_limit_is_answered_truncated():
    document = execute("w2019-2210", timeout_ms=10_000, max_output=1)
    results = document["results"]
    assert document["complete"] is True
    assert [result["id"] for result in results] == [probe["id"] for probe in PROBES]
    assert results[0]["ok"] is True
    assert all(result == {"id": result["id"], "ok": False, "category": "truncated", "error": "output limit reached",
                          "ms": 0} for result in results[1:])


def test_a_probe_that_hangs_is_abandoned_after_its_timeout_and_the_rest_still_run():
    document = execute("w2012r2-wmi-hang", timeout_ms=10_000)
    failed = [result for result in document["results"] if not result["ok"]]
    assert failed == [{"id": "hotfixes.qfe", "ok": False, "category": "timeout", "error": "no answer within 10 s",
                       "ms": 10_000}]
    ids = [result["id"] for result in document["results"]]
    assert ids == [probe["id"] for probe in PROBES]
    after = ids.index("hotfixes.qfe") + 1
    assert after < len(ids) and all(result["ok"] for result in document["results"][after:])


def test_a_hanging_last_probe_still_gives_a_whole_document():
    """The runspace the last probe hung in is left behind, so there is none to close at the end."""
    probes = [probe for probe in PROBES if probe["id"] != "hotfixes.qfe"]
    probes += [probe for probe in PROBES if probe["id"] == "hotfixes.qfe"]
    document = execute("w2012r2-wmi-hang", probes, timeout_ms=10_000)
    assert document["complete"] is True
    assert [result["id"] for result in document["results"]] == [probe["id"] for probe in probes]
    assert document["results"][-1]["category"] == "timeout"


def test_a_key_that_does_not_exist_is_answered_as_missing_not_as_an_error():
    """32-bit Windows has no WOW6432Node (the registry redirector exists only on 64-bit Windows:
    https://learn.microsoft.com/windows/win32/winprog64/registry-redirector); listing the 32-bit uninstall key
    there answers "exists: false", which the controller reads as "no entries", not a failed probe."""
    probes = [probe for probe in PROBES if probe["id"] == "agents.uninstall_wow"]
    document = execute("w2003-dsa96", probes, timeout_ms=10_000)
    assert document["results"] == [{"id": "agents.uninstall_wow", "ok": True,
                                    "data": {"exists": False, "items": [], "truncated": False},
                                    "ms": document["results"][0]["ms"]}]


def test_a_denied_key_is_reported_with_every_exception_of_its_chain():
    """A least-privileged account cannot open CBS\\Packages: PowerShell wraps the .NET SecurityException in a
    MethodInvocationException, and the runner sends the whole chain, each exception with its type and message,
    for the controller to say why."""
    document = execute("w2012r2-leastpriv", timeout_ms=10_000)
    cbs = next(result for result in document["results"] if result["id"] == "hotfixes.cbs")
    assert (cbs["ok"], cbs["category"]) == (False, "error")
    chain = [(item["type"], item["message"]) for item in cbs["record"]["exceptions"]]
    assert chain == [
        ("System.Management.Automation.MethodInvocationException",
         'Exception calling "OpenSubKey" with "2" argument(s): "Requested registry access is not allowed."'),
        ("System.Security.SecurityException", "Requested registry access is not allowed."),
    ]
    assert cbs["error"] == chain[0][1]


def test_a_package_key_removed_between_listing_and_opening_is_skipped():
    """CBS scavenges superseded packages while it services: GetSubKeyNames can name a key under CBS\\Packages
    that OpenSubKey then finds missing (null). The probe still answers, with every other package, and without
    the one that is gone; it does not fail as a whole."""
    probes = [probe for probe in PROBES if probe["id"] == "hotfixes.cbs"]
    document = execute("w2012r2-cbs-package-scavenged", probes, timeout_ms=10_000)
    (cbs,) = document["results"]
    assert cbs["ok"] is True, cbs
    assert cbs["data"]["exists"] is True and cbs["data"]["truncated"] is False
    assert [(item["name"], item["values"]) for item in cbs["data"]["items"]] == [
        ("Package_for_RollupFix~31bf3856ad364e35~amd64~~9600.20144.1.5", {"CurrentState": 112}),
        ("Package_for_KB2919355~31bf3856ad364e35~amd64~~6.3.1.0", {"CurrentState": 112}),
    ]
