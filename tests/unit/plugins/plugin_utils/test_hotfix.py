"""The update remediation's logic: which file for which host, in which order, whether at all, and what DISM's
codes mean."""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.codesign.windows.plugins.plugin_utils import _hotfix, _operation
from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import DEFAULT_CATALOG, load_catalog
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate

SHA1 = "0123456789abcdef0123456789abcdef01234567"


def verdict(os_version, hotfixes=(), architecture="AMD64", esu=None, **evidence):
    return evaluate({"os_version": os_version, "os_name": evidence.pop("os_name", None), "hotfixes": list(hotfixes),
                     "architecture": architecture, "esu": esu, "root_ca_present": True, **evidence})


W2012R2 = ("6.3.9600", ["KB2919355"])
W2008R2 = ("6.1.7601", [])


def files(*names):
    return [_hotfix.update_file(f"/updates/{name}") for name in names]


# ---------------------------------------------------------------------------------------------- exit codes
@pytest.mark.parametrize("value, code", [
    (-2146498530, 0x800F081E), (2148468766, 0x800F081E), ("-2146498530", 0x800F081E), ("0x800f0823", 0x800F0823),
    (3010, 3010), (0, 0), (True, None), ("text", None), (2**40, None), (None, None),
])
def test_exit_codes_are_normalised_to_unsigned_32_bit(value, code):
    assert _hotfix.normalize_code(value) == code


@pytest.mark.parametrize("value, words", [
    (-2146498530, "0x800f081e (CBS_E_NOT_APPLICABLE): the package is not applicable"),
    (-2146498525, "0x800f0823 (CBS_E_NEW_SERVICING_STACK_REQUIRED)"),
    (-2146498270, "0x800f0922 (CBS_E_INSTALLERS_FAILED)"),
    (-2146498554, "0x800f0806 (CBS_E_PENDING): another servicing operation is pending: restart"),
    (-2146498529, "0x800f081f (CBS_E_SOURCE_MISSING)"),
    (-2147024891, "0x80070005 (E_ACCESSDENIED)"),
    (740, "740 (ERROR_ELEVATION_REQUIRED)"),
    (3010, "3010 (ERROR_SUCCESS_REBOOT_REQUIRED): installed; a restart"),
    (-2147024784, "0x80070070 (ERROR_DISK_FULL)"),
    (-2147467259, "0x80004005: an error DISM does not explain by its code"),
])
def test_every_named_code_reads_as_a_sentence(value, words):
    assert words in _hotfix.describe_code(value)


def test_success_is_0_or_3010_only():
    assert _hotfix.succeeded(0) and _hotfix.succeeded(3010)
    assert not _hotfix.succeeded(-2146498530) and not _hotfix.succeeded(None) and not _hotfix.succeeded("3010x")


# ---------------------------------------------------------------------------------------------- file names
def test_catalog_names_are_parsed():
    item = _hotfix.update_file(f"/u/windows8.1-kb5022899-x64_{SHA1}.msu")
    assert (item.kb, item.architecture, item.os_tag, item.sha1, item.ext) == \
        ("KB5022899", "x64", "windows8.1", SHA1.upper(), "msu")
    assert _hotfix.update_file("/u/windows8-rt-kb5006739-x64.cab").os_tag == "windows8-rt"
    assert _hotfix.update_file("/u/readme.txt") is None
    assert _hotfix.update_file("/u/my-update.msu") is None
    assert _hotfix.update_file("/u/my-update.msu", kb="KB5006714").kb == "KB5006714"


def test_a_directory_is_read_by_catalog_names(tmp_path):
    (tmp_path / f"windows6.1-kb5006743-x64_{SHA1}.msu").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    assert [item.kb for item in _hotfix.files_in_directory(str(tmp_path))] == ["KB5006743"]
    with pytest.raises(_hotfix.HotfixError, match="cannot read the update directory"):
        _hotfix.files_in_directory(str(tmp_path / "absent"))


def test_a_mapping_names_each_kbs_file():
    found = _hotfix.files_from_mapping({"kb5006714": "/u/rollup.msu", 4490628: "/u/ssu.cab"})
    assert [(item.kb, item.name) for item in found] == [("KB5006714", "rollup.msu"), ("KB4490628", "ssu.cab")]
    with pytest.raises(_hotfix.HotfixError, match="not a KB id"):
        _hotfix.files_from_mapping({"latest": "/u/x.msu"})
    with pytest.raises(_hotfix.HotfixError, match="not a .msu or .cab"):
        _hotfix.files_from_mapping({"KB5006714": "/u/x.zip"})


# ---------------------------------------------------------------------------------------------- checksums
def test_the_sha1_of_a_catalog_name_is_checked(tmp_path):
    data = b"update bytes"
    good = hashlib.sha1(data).hexdigest()  # nosec - the catalog's own naming
    path = tmp_path / f"windows8.1-kb5006714-x64_{good}.msu"
    path.write_bytes(data)
    item = _hotfix.update_file(str(path))
    _hotfix.verify(item, _hotfix.hash_file(str(path)), {})
    bad = tmp_path / f"windows8.1-kb5006714-x64_{SHA1}.msu"
    bad.write_bytes(data)
    with pytest.raises(_hotfix.HotfixError, match="Microsoft Update Catalog name says"):
        _hotfix.verify(_hotfix.update_file(str(bad)), _hotfix.hash_file(str(bad)), {})


def test_a_sha256_given_by_name_or_kb_is_checked(tmp_path):
    path = tmp_path / "windows8.1-kb5006714-x64.msu"
    path.write_bytes(b"abc")
    item = _hotfix.update_file(str(path))
    right = hashlib.sha256(b"abc").hexdigest()
    _hotfix.verify(item, _hotfix.hash_file(str(path)), {"KB5006714": right})
    _hotfix.verify(item, _hotfix.hash_file(str(path)), {path.name: "sha256:" + right.upper()})
    with pytest.raises(_hotfix.HotfixError, match="not the .* given in checksums"):
        _hotfix.verify(item, _hotfix.hash_file(str(path)), {"KB5006714": "0" * 64})
    with pytest.raises(_hotfix.HotfixError, match="is not a SHA-256"):
        _hotfix.verify(item, _hotfix.hash_file(str(path)), {"KB5006714": "abc"})


def test_chunks_cover_the_file_with_their_hashes(tmp_path):
    path = tmp_path / "f.msu"
    path.write_bytes(bytes(range(256)) * 5)
    parts = list(_hotfix.chunks(str(path), 300))
    assert [offset for offset, _data, _sha in parts] == [0, 300, 600, 900, 1200]
    empty = tmp_path / "e.msu"
    empty.write_bytes(b"")
    assert [(o, d) for o, d, _s in _hotfix.chunks(str(empty))] == [(0, "")]


# ---------------------------------------------------------------------------------------------- the plan
def test_a_host_that_has_the_fix_or_something_later_needs_nothing():
    for hotfixes in (["KB2919355", "KB5006714"], ["KB2919355", "KB5034819"], ["KB2919355", "KB5006729"]):
        found = _hotfix.plan(verdict("6.3.9600", hotfixes), DEFAULT_CATALOG, [])
        assert found.action == "none" and "in place" in found.message, hotfixes
    assert _hotfix.plan(verdict("10.0.17763.2300"), DEFAULT_CATALOG, []).action == "none"


def test_an_installed_but_pending_update_is_not_installed_again():
    pending = verdict("6.3.9600", ["KB2919355", "KB5006714"], reboot_pending=True)
    assert _hotfix.plan(pending, DEFAULT_CATALOG, []).action == "pending"


def test_the_monthly_rollup_and_the_newest_later_one_supplied_win():
    v = verdict(*W2012R2)
    monthly = _hotfix.plan(v, DEFAULT_CATALOG, files("windows8.1-kb5006714-x64.msu", "windows8.1-kb5006729-x64.msu"))
    assert monthly.action == "install" and [s.kb for s in monthly.steps] == ["KB5006714"]
    later = _hotfix.plan(v, DEFAULT_CATALOG, files("windows8.1-kb5006714-x64.msu", "windows8.1-kb5022899-x64.msu"))
    assert [(s.kb, s.stands_for) for s in later.steps] == [("KB5022899", "KB5006714")]


def test_security_only_takes_exactly_the_named_update():
    v = verdict(*W2012R2)
    found = _hotfix.plan(v, DEFAULT_CATALOG, files("windows8.1-kb5006729-x64.msu", "windows8.1-kb5022899-x64.msu"),
                         rollup="security_only")
    assert [s.kb for s in found.steps] == ["KB5006729"]
    none = _hotfix.plan(v, DEFAULT_CATALOG, files("windows8.1-kb5022899-x64.msu"), rollup="security_only")
    assert none.action == "missing" and "KB5006729 (security-only update" in none.message


def test_the_file_must_fit_the_os_and_the_architecture():
    v = verdict(*W2012R2)
    wrong = files("windows8.1-kb5006714-x86.msu", "windows8-rt-kb5006714-x64.msu")
    found = _hotfix.plan(v, DEFAULT_CATALOG, wrong)
    assert found.action == "missing" and "KB5006714 or a later one (monthly rollup for Windows 8.1" in found.message
    assert "x64" in found.message and "catalog.update.microsoft.com" in found.message
    x86 = verdict(*W2012R2, architecture="x86")
    assert _hotfix.plan(x86, DEFAULT_CATALOG, wrong).steps[-1].file.name == "windows8.1-kb5006714-x86.msu"


def test_a_10x_host_gets_the_newest_cumulative_update_supplied():
    v = verdict("10.0.14393.4000", ["KB5005698"])   # its servicing stack prerequisite is in place
    found = _hotfix.plan(v, DEFAULT_CATALOG, files("windows10.0-kb5006669-x64.msu"))
    assert [s.kb for s in found.steps] == ["KB5006669"] and found.steps[0].title == "cumulative update"
    catalog = load_catalog({"later_updates": {"ws2016": ["KB5034767"]}})
    later = _hotfix.plan(v, catalog, files("windows10.0-kb5006669-x64.msu", "windows10.0-kb5034767-x64.msu"))
    assert [s.kb for s in later.steps] == ["KB5034767"]


def test_prerequisites_come_first_in_catalog_order():
    v = verdict(*W2008R2, esu=True)
    supplied = files("windows6.1-kb5006743-x64.msu", "windows6.1-kb4538483-x64.msu", "windows6.1-kb4490628-x64.msu",
                     "windows6.1-kb4474419-v3-x64.msu")
    found = _hotfix.plan(v, DEFAULT_CATALOG, supplied)
    assert found.action == "install"
    assert [(s.kb, s.role) for s in found.steps] == [("KB4474419", "prerequisite"), ("KB4490628", "prerequisite"),
                                                     ("KB4538483", "prerequisite"), ("KB5006743", "update")]


def test_an_installed_prerequisite_is_skipped_and_a_missing_one_is_named():
    v = verdict("6.1.7601", ["KB4474419", "KB4538483"], esu=True)
    found = _hotfix.plan(v, DEFAULT_CATALOG, files("windows6.1-kb5006743-x64.msu"))
    assert found.action == "missing"
    assert found.fetch == ("KB4490628 or any later one (Servicing stack update (March 2019), x64)",)


def test_server_2008_names_its_own_servicing_stack_to_fetch():
    # KB4493730 is "Servicing stack update for Windows Server 2008 SP2: April 9, 2019" (Microsoft Support).
    v = verdict("6.0.6003", ["KB4474419"], esu=True, os_name="Microsoft Windows Server 2008 Standard")
    found = _hotfix.plan(v, DEFAULT_CATALOG, files("windows6.0-kb5006736-x64.msu"))
    assert found.action == "missing", found
    assert "KB4493730 or any later one (Servicing stack update (April 2019), x64)" in found.fetch


def test_a_later_servicing_stack_stands_in_for_an_or_later_prerequisite():
    v = verdict("6.1.7601", ["KB4474419", "KB4538483"], esu=True)
    mapped = _hotfix.files_from_mapping({"KB4490628": "/u/windows6.1-kb5010451-x64.msu",
                                         "KB5006743": "/u/windows6.1-kb5006743-x64.msu"})
    found = _hotfix.plan(v, DEFAULT_CATALOG, mapped)
    assert [(s.kb, s.stands_for) for s in found.steps] == [("KB5010451", "KB4490628"), ("KB5006743", None)]
    older = _hotfix.files_from_mapping({"KB4490628": "/u/windows6.1-kb4000001-x64.msu",
                                        "KB5006743": "/u/windows6.1-kb5006743-x64.msu"})
    with pytest.raises(_hotfix.HotfixError, match="takes a later one"):
        _hotfix.plan(v, DEFAULT_CATALOG, older)
    sha2 = _hotfix.files_from_mapping({"KB4474419": "/u/windows6.1-kb5000001-x64.msu"})
    with pytest.raises(_hotfix.HotfixError, match="takes only that update"):
        _hotfix.plan(verdict(*W2008R2, esu=True), DEFAULT_CATALOG, sha2)


def test_a_mapping_entry_holding_another_update_is_refused():
    mapped = _hotfix.files_from_mapping({"KB5006714": "/u/windows8.1-kb5006729-x64.msu"})
    with pytest.raises(_hotfix.HotfixError, match="holds KB5006729, not KB5006714"):
        _hotfix.plan(verdict(*W2012R2), DEFAULT_CATALOG, mapped)


@pytest.mark.parametrize("esu, action", [(None, "refuse"), (True, "install")])
def test_esu_only_updates_need_a_known_licence(esu, action):
    supplied = files("windows6.1-kb5006743-x64.msu", "windows6.1-kb4538483-x64.msu", "windows6.1-kb4490628-x64.msu",
                     "windows6.1-kb4474419-x64.msu")
    found = _hotfix.plan(verdict(*W2008R2, esu=esu), DEFAULT_CATALOG, supplied)
    assert found.action == action
    if action == "refuse":
        assert "Extended Security Updates (ESU)" in found.message and "acs_esu: true" in found.message
    assert _hotfix.plan(verdict(*W2008R2), DEFAULT_CATALOG, supplied, esu=True).action == "install"
    assert _hotfix.plan(verdict(*W2008R2, esu=False), DEFAULT_CATALOG, supplied, esu=True).action == "refuse"


@pytest.mark.parametrize("given, words", [
    (None, "has no verdict"), ("text", "has no verdict"), ({"status": "unknown"}, "verdict is unknown"),
    ({"status": "needs_kb", "os": {"row": "nope"}}, "no catalog row"),
    ({"status": "no_patch_path"}, "must be upgraded"),
])
def test_a_verdict_that_says_nothing_usable_is_refused(given, words):
    found = _hotfix.plan(given, DEFAULT_CATALOG, [])
    assert found.action == "refuse" and words in found.message


def test_an_unknown_architecture_is_refused():
    v = dict(verdict(*W2012R2, architecture=None))
    assert _hotfix.plan(v, DEFAULT_CATALOG, files("windows8.1-kb5006714-x64.msu")).action == "refuse"


def test_a_bad_rollup_choice_is_the_users_error():
    with pytest.raises(_hotfix.HotfixError, match="rollup must be one of"):
        _hotfix.plan(verdict(*W2012R2), DEFAULT_CATALOG, [], rollup="weekly")


# ---------------------------------------------------------------------------------------------- answers
def test_the_answer_is_found_and_anything_else_is_refused():
    assert _hotfix.parse_operation_output(0, 'noise\r\n{"acs_hotfix":1,"free_mb":5}\r\n', "")["free_mb"] == 5
    for out in ("", '{"acs_hotfix":2}', '{"acs_hotfix":1', "\x00" * 10):
        with pytest.raises(_operation.OperationOutputError):
            _hotfix.parse_operation_output(1, out, "boom")


def test_preflight_reads_only_what_it_can_trust():
    found = _hotfix.preflight({"free_mb": 900, "restart_pending": ["RebootPending", 5], "winrs": ["x", 5],
                               "tool": "dism"})
    assert found == _hotfix.Preflight(900, ["RebootPending"], None, "dism")
    assert "900 MB free" in _hotfix.preflight_problem(found, 1024)
    assert "restart is already pending" in _hotfix.preflight_problem(found, 100)
    assert "neither dism.exe nor pkgmgr.exe" in _hotfix.preflight_problem(_hotfix.preflight({"tool": "x"}), 1)
    assert _hotfix.preflight_problem(_hotfix.Preflight(5000, [], 150, "pkgmgr"), 1024) is None


def test_package_results_are_cleaned_and_explained():
    results = _hotfix.package_results({"packages": [{"cab": "Windows8.1-KB5006714-x64.cab", "exit_code": -2146498530},
                                                    "junk", {"cab": "\x1b[31m", "exit_code": "x"}]})
    assert results[0]["exit_code"] == 0x800F081E and "not applicable" in results[0]["result"]
    assert results[1]["exit_code"] is None


def test_the_shell_memory_quota_is_read_from_winrm_output():
    lines = ["Winrs", "    AllowRemoteShellAccess = true", "    MaxMemoryPerShellMB = 150 [Source=\"GPO\"]"]
    assert _hotfix.shell_memory(lines) == 150
    assert _hotfix.shell_memory(["nothing"]) is None and _hotfix.shell_memory("MaxMemoryPerShellMB = 5") is None


@pytest.mark.parametrize("quota, expected", [(150, True), (1023, True), (1024, False), (0, False), (None, False)])
def test_an_install_runs_as_a_scheduled_task_below_1024_mb_of_shell_quota(quota, expected):
    assert _hotfix.needs_task(quota) is expected


def test_the_task_command_is_one_plain_command_line():
    assert _hotfix.task_command("dism", "C:\\Windows", "C:\\t\\a.cab") == (
        "C:\\Windows\\System32\\dism.exe /online /add-package /packagepath:C:\\t\\a.cab /quiet /norestart")
    pkgmgr = _hotfix.task_command("pkgmgr", "C:\\Windows", "C:\\t\\a.cab")
    assert pkgmgr.endswith("pkgmgr.exe /ip /m:C:\\t\\a.cab /quiet /norestart")
    for cab in ("\\\\server\\my share\\a.cab", 'C:\\t\\"a.cab', "C:\\" + "x" * 300 + ".cab"):
        with pytest.raises(_hotfix.HotfixError):
            _hotfix.task_command("dism", "C:\\Windows", cab)


@pytest.mark.parametrize("lines, expected", [
    (['"H","\\codesign-acs-hotfix","N/A","Läuft","x","y","267009","z"'], 0x41301),
    (['', '"H","\\t","N/A","Ready","x","y","-2146498530","z"'], 0x800F081E),
    (['"H","\\t","N/A","Ready","x","y","3010"'], 3010),
    (['"H","\\t","N/A"'], None), (["ERROR"], None), (None, None), (['"H","t","a","b","c","d","lots"'], None)])
def test_the_last_result_is_read_by_column_not_by_translated_text(lines, expected):
    assert _hotfix.task_last_result(lines) == expected


@pytest.mark.parametrize("text, expected", [
    ('<assembly><assemblyIdentity name="Package_for_RollupFix"/><package identifier="KB5006714" '
     'releaseType="Security Update"></package></assembly>', "KB5006714"),
    ("<package releaseType='Update' identifier='kb4474419'>", "KB4474419"),
    ('<assemblyIdentity identifier="KB1"/><package releaseType="Update">', None), (None, None), (5, None)])
def test_the_kb_of_a_package_is_the_identifier_its_manifest_gives(text, expected):
    assert _hotfix.manifest_kb(text) == expected


# ---------------------------------------------------------------------------------------------- Server 2016's stack
SSU_1607_FILE = "windows10.0-kb5005698-x64_ff882b0a9dccc0c3f52673ba3ecf4a2a3b2386ca.msu"


def test_server_2016_installs_its_servicing_stack_before_the_cumulative_update():
    v = verdict("10.0.14393.4651", [])
    found = _hotfix.plan(v, DEFAULT_CATALOG, files("windows10.0-kb5006669-x64.msu", SSU_1607_FILE))
    assert found.action == "install"
    assert [(s.kb, s.role) for s in found.steps] == [("KB5005698", "prerequisite"), ("KB5006669", "update")]
    assert found.steps[0].or_later and not found.steps[1].or_later
    missing = _hotfix.plan(v, DEFAULT_CATALOG, files("windows10.0-kb5006669-x64.msu"))
    assert missing.action == "missing"
    assert missing.fetch == ("KB5005698 or any later one (Servicing stack update for Windows 10 1607 / Server 2016 "
                             "(September 2021), x64)",)


def test_server_2016_with_a_later_servicing_stack_installs_only_the_cumulative_update():
    v = verdict("10.0.14393.4651", ["KB5017396"])
    found = _hotfix.plan(v, DEFAULT_CATALOG, files("windows10.0-kb5006669-x64.msu"))
    assert found.action == "install" and [s.kb for s in found.steps] == ["KB5006669"]


@pytest.mark.parametrize("role, or_later, codes, superseded", [
    ("prerequisite", True, [0x800F081E], True),
    ("prerequisite", True, [-2146498530], True),
    ("prerequisite", True, [0x800F0823], False),
    ("prerequisite", False, [0x800F081E], False),
    ("update", False, [0x800F081E], False),
    ("prerequisite", True, [], False),
])
def test_only_an_or_later_prerequisite_that_windows_calls_not_applicable_is_taken_as_superseded(
        role, or_later, codes, superseded):
    step = _hotfix.Step("KB5005698", role, "servicing stack", None, or_later=or_later)
    packages = [{"cab": f"c{n}.cab", "exit_code": _hotfix.normalize_code(code)} for n, code in enumerate(codes)]
    assert _hotfix.superseded_prerequisite(step, packages) is superseded
