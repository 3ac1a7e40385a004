"""Export files -> evidence records: every format, every kind of bad input, the sample files' verdicts.

The expected statuses of the sample files are written by hand from the advisories' rules
(docs/verdict.md), never computed from the catalog.
"""

from __future__ import annotations

import codecs
import json
import pathlib
import subprocess

import pytest
import yaml

from ansible_collections.codesign.windows.plugins.plugin_utils._exports import (
    DEFAULT_MAX_FILE_SIZE,
    ExportSource,
    MappingError,
    parse_mapping,
    read_exports,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._verdict import evaluate
from support.export_samples import SAMPLE_STATUSES

SAMPLES = pathlib.Path(__file__).resolve().parents[4] / "docs" / "samples" / "exports"
CMDB_MAPPING = parse_mapping(yaml.safe_load((SAMPLES / "cmdb-mapping.yml").read_text(encoding="utf-8")))


def sample_sources() -> list[ExportSource]:
    names = ("evidence.csv", "evidence.json", "configmgr-os.csv", "configmgr-qfe.csv", "wsus.csv")
    sources = [ExportSource(str(SAMPLES / name), display=name) for name in names]
    sources.append(ExportSource(str(SAMPLES / "cmdb.csv"), display="cmdb.csv", format="cmdb", mapping=CMDB_MAPPING))
    return sources


@pytest.fixture(scope="module")
def samples():
    return read_exports(sample_sources())


def test_sample_files_give_the_expected_verdicts(samples):
    statuses = {host: evaluate(record["evidence"])["status"] for host, record in samples["records"].items()}
    assert statuses == SAMPLE_STATUSES


def test_sample_files_have_one_bad_row_the_unrecognised_os(samples):
    assert samples["bad_rows"] == [{
        "file": "wsus.csv", "row": 13, "column": "OSDescription", "host": "ws-0099.corp.example.com",
        "message": "the OS is not recognised: Windows 10 without a release (such as 21H2 or 1809) or a build "
                   "number cannot be judged: each release needs a different update"}]
    assert samples["records"]["ws-0099.corp.example.com"]["errors"][0]["row"] == 13


def test_sample_files_are_detected_by_their_columns(samples):
    formats = {f["path"]: f["format"] for f in samples["files"]}
    assert formats == {"evidence.csv": "evidence", "evidence.json": "evidence", "configmgr-os.csv": "configmgr_os",
                       "configmgr-qfe.csv": "configmgr_qfe", "wsus.csv": "wsus", "cmdb.csv": "cmdb"}
    assert samples["warnings"] == []


@pytest.mark.parametrize("host, field, value", [
    ("web01", "hotfixes", ["KB2919355", "KB5034819"]),
    ("web01", "agents", [{"product": "apex_one", "version": "14.0.0.12526", "service_state": "running"}]),
    ("web01", "root_auto_update_disabled", False),
    ("app01", "ubr", 2210),
    ("app02", "hotfixes", []),                           # "none": known to be empty
    ("pc01", "hotfixes", None),                          # empty cell: not known
    ("dmz01", "offline", True),
    ("web03", "agents", [{"product": "Deep Security Agent", "version": "20.0.0.8438", "service_state": "running"}]),
    ("SRV-SQL01", "os_version", "10.0.17763.2237"),      # BuildExt wins over Version0: it has the revision
    ("SRV-SQL01", "hotfixes", ["KB5005625", "KB5006672"]),
    ("SRV-DC01", "installation_type", "Server"),         # ProductType0 2
    ("WS-0042", "installation_type", "Client"),          # ProductType0 1
    ("SRV-SQL01", "architecture", "64-bit"),
    ("SRV-FS01", "hotfixes", ["KB2919355", "KB5006714"]),   # "File 1" is no KB
    ("fs04.corp.example.com", "reboot_pending", True),
    ("fs04.corp.example.com", "hotfixes", ["KB5006714"]),
    ("fs05.corp.example.com", "hotfixes", ["KB5034819"]),
    ("fs06.corp.example.com", "hotfixes", []),
    ("fs03.corp.example.com", "reboot_pending", None),
    ("fs08.corp.example.com", "hotfixes", None),
    ("ERP-DB1", "hotfixes", ["KB2919355", "KB5006714"]),
    ("ERP-DB1", "offline", False),
    ("ERP-DB2", "root_ca_present", False),
    ("LAB-7", "esu", True),
    ("LAB-8", "hotfixes", None),
])
def test_sample_fields(samples, host, field, value):
    assert samples["records"][host]["evidence"][field] == value


@pytest.mark.parametrize("host, missing", [
    ("SRV-FS01", ["root_ca_present", "root_auto_update_disabled", "offline", "reboot_pending", "agents"]),
    ("SRV-LEGACY", ["root_ca_present", "root_auto_update_disabled", "offline", "esu", "reboot_pending", "agents"]),
    ("app03.corp.example.com", ["ubr", "root_ca_present", "root_auto_update_disabled", "offline", "reboot_pending",
                                "agents"]),
    ("fs08.corp.example.com", ["hotfixes", "root_ca_present", "root_auto_update_disabled", "offline",
                               "reboot_pending", "agents"]),
    ("web01", ["root_ca_present", "offline", "reboot_pending"]),
    ("ws-0099.corp.example.com", ["root_ca_present", "root_auto_update_disabled", "offline", "esu",
                                  "reboot_pending", "agents"]),          # not recognised: esu may matter
])
def test_what_an_export_lacks_is_null_with_a_note(samples, host, missing):
    record = samples["records"][host]
    assert record["missing"] == missing
    for field in missing:
        assert record["evidence"][field] is None
        assert any(note.startswith(f"{field}: not in the ") for note in record["notes"]), (field, record["notes"])


def test_notes_name_the_source_and_the_consequence(samples):
    notes = samples["records"]["SRV-FS01"]["notes"]
    assert ("root_ca_present: not in the ConfigMgr export; the root certificate counts as not checked: it is "
            "reported as needed where the host cannot fetch it") in notes
    assert "1 update entries are no KB id and were ignored ('File 1')" in notes
    assert any("state Unknown" in n for n in samples["records"]["fs08.corp.example.com"]["notes"])


def test_sources_say_where_a_host_came_from(samples):
    assert samples["records"]["SRV-FS01"]["sources"] == [
        {"file": "configmgr-os.csv", "format": "configmgr_os", "first_row": 4, "rows": 1},
        {"file": "configmgr-qfe.csv", "format": "configmgr_qfe", "first_row": 4, "rows": 3}]


# ------------------------------------------------------------------------------------------------
# WSUS states
# ------------------------------------------------------------------------------------------------
WSUS_HEADER = "FullDomainName,OSDescription,KnowledgebaseArticles,UpdateInstallationState\n"
R2 = "Windows Server 2012 R2 Standard"


@pytest.mark.parametrize("states, hotfixes, reboot_pending, status", [
    ([("5006714", "Installed")], ["KB5006714"], None, "ready"),
    ([("5006714", "InstalledPendingReboot")], ["KB5006714"], True, "reboot_pending"),
    ([("5006714", "6")], ["KB5006714"], True, "reboot_pending"),             # the enum's number
    ([("5006714", "Needed")], [], None, "needs_kb"),
    ([("5006714", "NotInstalled")], [], None, "needs_kb"),                    # the API's name for Needed
    ([("5006714", "Downloaded")], [], None, "needs_kb"),
    ([("5006714", "Failed")], [], None, "needs_kb"),
    ([("5006714", "NotApplicable")], [], None, "needs_kb"),
    ([("5006714", "NotApplicable"), ("5034819", "Installed")], ["KB5034819"], None, "ready"),
    ([("5006714", "Unknown")], None, None, "unknown"),
    ([("5006714", "Unknown"), ("2919355", "Installed")], ["KB2919355"], None, "needs_kb"),
    ([("5006729", "installed")], ["KB5006729"], None, "ready"),              # any case
])
def test_wsus_states(tmp_path, states, hotfixes, reboot_pending, status):
    path = tmp_path / "wsus.csv"
    path.write_text(WSUS_HEADER + "".join(f"h1,{R2},{kb},{state}\n" for kb, state in states), encoding="utf-8")
    result = read_exports([ExportSource(str(path))])
    evidence = result["records"]["h1"]["evidence"]
    assert (evidence["hotfixes"], evidence["reboot_pending"]) == (hotfixes, reboot_pending)
    assert evaluate(evidence)["status"] == status
    assert result["bad_rows"] == []


def test_wsus_kb_from_the_title(tmp_path):
    path = tmp_path / "wsus.csv"
    path.write_text("Computer,OS,Title,State\n"
                    f"h1,{R2},2021-10 Security Monthly Quality Rollup (KB5006714),Installed\n", encoding="utf-8")
    result = read_exports([ExportSource(str(path), format="wsus")])
    assert result["records"]["h1"]["evidence"]["hotfixes"] == ["KB5006714"]


# ------------------------------------------------------------------------------------------------
# Bad input: each case gives a message naming file, row and column; good rows are still read
# ------------------------------------------------------------------------------------------------
EVIDENCE_HEADER = "host,os_name,os_version,hotfixes\n"
GOOD = f"good1,{R2},6.3.9600,KB5006714\n"


def write(tmp_path: pathlib.Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


BAD_INPUT = [
    # (id, file content, format, expected bad row (row, column, message part), host that must carry the error)
    ("missing-host-column", "name,os_name\nh1,Windows Server 2019\n", "evidence",
     (1, "host", "the column 'host' (host) is missing: no row can be used"), None),
    ("missing-os-column", "Name0,Caption1\nSRV1,x\n", "configmgr",
     (1, "Version0 or BuildExt or Caption0", "is missing: its hosts are listed without an OS"), "SRV1"),
    ("unknown-os", EVIDENCE_HEADER + GOOD + "bad1,Windows Server 2007,,KB5006714\n", "auto",
     (3, "os_name", "the OS is not recognised"), "bad1"),
    ("unknown-version", EVIDENCE_HEADER + GOOD + "bad1,,10.0.99999,\n", "auto",
     (3, "os_version", "the OS is not recognised: build 99999 is out of range"), "bad1"),
    ("duplicate-host", EVIDENCE_HEADER + GOOD + f"good1,{R2},6.3.9600,KB5006714\n", "auto",
     (3, "host", "the host 'good1' is also on row 2 of this file"), "good1"),
    ("duplicate-disagrees", EVIDENCE_HEADER + GOOD + f"GOOD1,{R2},6.3.9600,KB2919355\n", "auto",
     (3, "hotfixes", "the rows disagree, so hotfixes is null"), "good1"),
    ("empty-file", "", "auto", (None, None, "the file is empty"), None),
    ("blank-file", "\r\n \r\n", "auto", (None, None, "the file is empty"), None),
    ("header-only", EVIDENCE_HEADER, "auto", (None, None, "the file has a header but no rows"), None),
    ("extra-field", EVIDENCE_HEADER + GOOD + "bad1,Windows Server 2012 R2, Standard,6.3.9600,\n", "auto",
     (3, None, "the row has 5 fields but the header has 4"), "bad1"),
    ("missing-field", EVIDENCE_HEADER + GOOD + "bad1,Windows Server 2019\n", "auto",
     (3, None, "the row has 2 fields but the header has 4"), "bad1"),
    ("bad-quoting", EVIDENCE_HEADER + 'bad1,"Windows" Server,6.3.9600,\n' + GOOD, "auto",
     (2, None, "the row cannot be read as CSV"), None),
    ("empty-host", EVIDENCE_HEADER + GOOD + f",{R2},6.3.9600,\n", "auto",
     (3, "host", "the host name is empty"), None),
    ("bad-ubr", "host,os_version,ubr\n" + "good1,10.0.17763,2210\nbad1,10.0.17763,22x0\n", "auto",
     (3, "ubr", "ubr: expected a whole number, got '22x0'"), "bad1"),
    ("ubr-out-of-range", "host,os_version,ubr\nbad1,10.0.17763,70000\n", "auto",
     (2, "ubr", "ubr: 70000 is out of range (0 to 65535)"), "bad1"),
    ("bad-boolean", "host,os_version,esu\ngood1,6.3.9600,no\nbad1,6.1.7601,maybe\n", "evidence",
     (3, "esu", "esu: expected true or false"), "bad1"),
    ("bad-agent", "host,os_version,agents\nbad1,6.3.9600,a:b:c:d\n", "evidence",
     (2, "agents", "agent 'a:b:c:d' is not 'product:version:state'"), "bad1"),
    ("bad-wsus-state", WSUS_HEADER + f"good1,{R2},5006714,Installed\nbad1,{R2},5006714,Pending\n", "auto",
     (3, "UpdateInstallationState", "'Pending' is not an update state"), "bad1"),
    ("qfe-without-os-row", "Name0,HotFixID0\nSRV9,KB5006714\n", "auto",
     (2, None, "no row in a ConfigMgr hosts file"), "SRV9"),
    ("format-not-told", "a,b\n1,2\n", "auto", (1, None, "the format cannot be told from the columns"), None),
    ("json-invalid", '[{"host": "h1",\n "os_name": }]', "auto", (2, None, "the file is not valid JSON"), None),
    ("json-not-a-mapping", '[{"host": "good1", "os_version": "6.3.9600", "hotfixes": []}, 42]', "auto",
     (2, None, "record 2 is a int, not a mapping"), None),
    ("json-host-not-a-mapping", '{"good1": {"os_version": "6.3.9600", "hotfixes": []}, "h2": "x"}', "auto",
     (2, None, "record 2 is a str, not a mapping"), None),
    ("json-scalar-document", '[1, 2]', "auto", (1, None, "record 1 is a int, not a mapping"), None),
    ("build-disagrees", "Name0,Caption0,Version0,BuildNumber0\nSRV1,Microsoft Windows Server 2019,10.0.17763,14393\n",
     "auto", (2, "BuildNumber0", "the build number 14393 and the version 10.0.17763 disagree"), "SRV1"),
]


@pytest.mark.parametrize("content, fmt, expected, host", [case[1:] for case in BAD_INPUT],
                         ids=[case[0] for case in BAD_INPUT])
def test_bad_input(tmp_path, content, fmt, expected, host):
    path = write(tmp_path, "export.csv", content)
    result = read_exports([ExportSource(path, format=fmt)])
    row, column, message = expected
    matches = [bad for bad in result["bad_rows"] if message in bad["message"]]
    assert matches, result["bad_rows"]
    assert (matches[0]["file"], matches[0]["row"], matches[0]["column"]) == (path, row, column)
    if host is not None:
        # a host whose row is bad still appears, with the error
        assert host in result["records"], result["records"].keys()
        assert result["records"][host]["errors"]
        if matches[0]["host"] is not None:
            assert matches[0]["host"] == host
            assert any(message in error["message"] for error in result["records"][host]["errors"])
    if "good1" in content and host != "good1":
        assert "good1" in result["records"], "good rows are still read"
        assert not result["records"]["good1"]["errors"], "good rows are still evaluated, without errors"


def test_duplicate_policy_keeps_agreeing_fields_and_nulls_the_rest(tmp_path):
    path = write(tmp_path, "e.csv", "host,os_name,os_version,hotfixes,esu\n"
                                    f"h1,{R2},6.3.9600,KB5006714,true\nH1,{R2},6.3.9600,KB2919355,true\n")
    result = read_exports([ExportSource(path)])
    assert list(result["records"]) == ["h1"]          # one host; the first spelling names it
    record = result["records"]["h1"]
    assert record["evidence"]["hotfixes"] is None and record["evidence"]["esu"] is True
    assert record["evidence"]["os_version"] == "6.3.9600"
    assert "hotfixes: the rows disagree; " in record["notes"][0]
    assert [(b["row"], b["column"]) for b in result["bad_rows"]] == [(3, "host"), (3, "hotfixes")]
    assert evaluate(record["evidence"])["status"] == "unknown"   # fail closed


def test_installed_in_one_file_and_needed_in_another_is_not_counted(tmp_path):
    qfe = write(tmp_path, "qfe.csv", "Name0,HotFixID0\nh1,KB5006714\n")
    wsus = write(tmp_path, "wsus.csv", WSUS_HEADER + f"h1,{R2},5006714,Failed\n")
    result = read_exports([ExportSource(qfe), ExportSource(wsus)])
    assert result["records"]["h1"]["evidence"]["hotfixes"] == []
    assert any("KB5006714 is installed on" in bad["message"] and bad["file"] == wsus for bad in result["bad_rows"])


def test_files_that_disagree_on_the_os_leave_it_unknown(tmp_path):
    one = write(tmp_path, "one.csv", "host,os_version\nh1,6.3.9600\n")
    two = write(tmp_path, "two.csv", "host,os_version\nh1,6.2.9200\n")
    result = read_exports([ExportSource(one), ExportSource(two)])
    assert result["records"]["h1"]["evidence"]["os_version"] is None
    assert [b["file"] for b in result["bad_rows"]] == [two]
    assert f"on {one} row 2 (os_version)" in result["bad_rows"][0]["message"]


def test_every_given_host_appears_in_records_or_bad_rows(tmp_path):
    content = EVIDENCE_HEADER + GOOD + "bad1,Windows Server 2007,,\n" + "bad2,a,b,c,d\n" + ",x,y,\n"
    result = read_exports([ExportSource(write(tmp_path, "e.csv", content))])
    assert set(result["records"]) == {"good1", "bad1", "bad2"}
    assert {b["row"] for b in result["bad_rows"]} == {3, 4, 5}


# ------------------------------------------------------------------------------------------------
# Encodings from Windows tools
# ------------------------------------------------------------------------------------------------
TEXT = "host,os_name,os_version,hotfixes\r\nsrv-\u00e9t\u00e9,Windows Server 2012 R2 Standard,6.3.9600,KB5006714\r\n"


@pytest.mark.parametrize("data, encoding, warned", [
    (TEXT.encode("utf-8"), "UTF-8", False),
    (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "UTF-8 with BOM", False),            # Excel "CSV UTF-8"
    (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "UTF-16 LE with BOM", False),  # PowerShell 5.1 ">"
    (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "UTF-16 BE with BOM", False),
    (TEXT.encode("utf-16-le"), "UTF-16 LE without BOM", True),
    (TEXT.encode("cp1252"), "Windows-1252", True),                                # Excel "CSV (Comma delimited)"
    (codecs.BOM_UTF16_LE + TEXT.replace(",", "\t").encode("utf-16-le"), "UTF-16 LE with BOM", False),  # "Unicode Text"
])
def test_windows_encodings(tmp_path, data, encoding, warned):
    result = read_exports([ExportSource(write(tmp_path, "e.csv", data))])
    assert result["bad_rows"] == []
    assert list(result["records"]) == ["srv-\u00e9t\u00e9"]
    assert result["records"]["srv-\u00e9t\u00e9"]["evidence"]["hotfixes"] == ["KB5006714"]
    assert result["files"][0]["encoding"] == encoding
    assert bool(result["warnings"]) is warned


def test_powershell_export_csv_with_type_line_is_not_mistaken(tmp_path):
    # Export-Csv without -NoTypeInformation (PowerShell 5.1) writes "#TYPE ..." first: auto cannot tell it.
    data = '#TYPE System.Management.Automation.PSCustomObject\r\n"host","os_version"\r\n"h1","6.3.9600"\r\n'
    result = read_exports([ExportSource(write(tmp_path, "e.csv", data))])
    assert result["records"] == {}
    assert "the format cannot be told" in result["bad_rows"][0]["message"]


@pytest.mark.parametrize("data, message", [
    (codecs.BOM_UTF16_LE + b"h\x00o\x00s", "is not valid UTF-16 LE with BOM"),
    (codecs.BOM_UTF32_LE + "host\n".encode("utf-32-le"), "the file is UTF-32"),
    (b"PK\x03\x04" + bytes(range(1, 200)) * 20 + b"\x00", "the file contains NUL bytes and is not text"),
])
def test_undecodable_files(tmp_path, data, message):
    path = write(tmp_path, "e.csv", data)
    result = read_exports([ExportSource(path)])
    assert result["records"] == {}
    assert result["bad_rows"][0]["file"] == path and message in result["bad_rows"][0]["message"]


# ------------------------------------------------------------------------------------------------
# Size cap, missing files
# ------------------------------------------------------------------------------------------------
def test_a_file_over_the_size_cap_is_not_read(tmp_path):
    sparse = tmp_path / "huge.csv"
    subprocess.run(["truncate", "-s", "5G", str(sparse)], check=True)   # sparse: no disk used
    small = write(tmp_path, "small.csv", EVIDENCE_HEADER + GOOD)
    result = read_exports([ExportSource(str(sparse)), ExportSource(small)])
    assert result["bad_rows"] == [{"file": str(sparse), "row": None, "column": None, "host": None,
                                   "message": "the file is 5.0 GiB, over max_file_size (256.0 MiB): raise "
                                              "max_file_size or split the export"}]
    assert list(result["records"]) == ["good1"]


def test_the_size_cap_is_configurable(tmp_path):
    path = write(tmp_path, "e.csv", EVIDENCE_HEADER + GOOD)
    size = len(EVIDENCE_HEADER + GOOD)
    assert read_exports([ExportSource(path)], max_file_size=10)["bad_rows"][0]["message"].startswith(
        f"the file is {size} bytes, over max_file_size (10 bytes)")
    assert read_exports([ExportSource(path)], max_file_size=size)["bad_rows"] == []
    assert DEFAULT_MAX_FILE_SIZE == 256 * 1024 * 1024


@pytest.mark.parametrize("make, message", [
    (lambda p: str(p / "absent.csv"), "the file cannot be read: No such file or directory"),
    (str, "the path is a directory"),
    (lambda p: "/dev/zero", "the path is not a regular file"),
])
def test_unreadable_paths(tmp_path, make, message):
    path = make(tmp_path)
    result = read_exports([ExportSource(path)])
    assert result["bad_rows"][0]["file"] == path and message in result["bad_rows"][0]["message"]


# ------------------------------------------------------------------------------------------------
# Formats and mappings
# ------------------------------------------------------------------------------------------------
def test_evidence_json_shapes(tmp_path):
    record = {"os_version": "6.3.9600", "hotfixes": ["KB5006714"]}
    shapes = [
        [{"host": "h1", **record}],
        {"h1": record},
        {"records": {"h1": {"host": "h1", "evidence": record, "notes": []}}},   # this action's own result
    ]
    for shape in shapes:
        result = read_exports([ExportSource(write(tmp_path, "e.json", json.dumps(shape)))])
        assert result["records"]["h1"]["evidence"]["hotfixes"] == ["KB5006714"], shape
        assert result["bad_rows"] == []


def test_configmgr_with_renamed_columns_through_a_mapping(tmp_path):
    hosts = write(tmp_path, "os.csv", "Computer,OS,Ver\nSRV1,Microsoft Windows Server 2012 R2 Standard,6.3.9600\n")
    updates = write(tmp_path, "qfe.csv", "Computer,KB\nSRV1,KB5006714\n")
    mapping = parse_mapping({"host": "Computer", "os_name": "OS", "os_version": "Ver", "kb": "KB"})
    result = read_exports([ExportSource(hosts, format="configmgr", mapping=mapping),
                           ExportSource(updates, format="configmgr", mapping=mapping)])
    assert [f["format"] for f in result["files"]] == ["configmgr_os", "configmgr_qfe"]
    assert evaluate(result["records"]["SRV1"]["evidence"])["status"] == "ready"


def test_cmdb_update_rows_with_a_state_value_map(tmp_path):
    path = write(tmp_path, "c.csv", "Asset;OS;Patch;Result\nh1;Windows Server 2012 R2;KB5006714;Patched\n"
                                    "h2;Windows Server 2012 R2;KB5006714;Missing\n")
    mapping = parse_mapping({"columns": {"host": "Asset", "os_name": "OS", "kb": "Patch", "state": "Result"},
                             "values": {"state": {"Patched": "installed", "Missing": "needed"}}})
    result = read_exports([ExportSource(path, mapping=mapping)])
    assert {h: r["evidence"]["hotfixes"] for h, r in result["records"].items()} == {"h1": ["KB5006714"], "h2": []}


def test_a_mapped_column_absent_from_the_file_is_a_bad_row(tmp_path):
    path = write(tmp_path, "c.csv", "Asset,OS\nh1,Windows Server 2012 R2\n")
    mapping = parse_mapping({"host": "Asset", "os_name": "OS", "hotfixes": "Patches"})
    result = read_exports([ExportSource(path, format="cmdb", mapping=mapping)])
    assert result["bad_rows"][0] == {"file": path, "row": 1, "column": "Patches", "host": None,
                                     "message": "the mapping names the column 'Patches' for hotfixes, and the file "
                                                "has no such column"}
    assert "h1" in result["records"]


@pytest.mark.parametrize("mapping, message", [
    ({"host": "A", "osname": "B"}, "mapping names the field 'osname'"),
    ({"columns": {"host": "A"}, "colums": {}}, "mapping has unknown keys colums"),
    ({"host": ""}, "mapping.columns.host must be a column name"),
    ({"host": "A", "separator": "ab"}, "mapping.separator must be one punctuation character"),
    ({"host": "A", "values": {"esu": "yes"}}, "mapping.values.esu must be a mapping"),
    (["host"], "mapping must be a mapping"),
])
def test_bad_mappings_raise_for_the_caller(mapping, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping(mapping)


def test_cmdb_without_a_mapping_and_an_unknown_format_raise(tmp_path):
    path = write(tmp_path, "c.csv", "a,b\n1,2\n")
    with pytest.raises(MappingError, match="the cmdb format needs a mapping"):
        read_exports([ExportSource(path, format="cmdb")])
    with pytest.raises(MappingError, match="format must be one of"):
        read_exports([ExportSource(path, format="sccm")])


def test_wsus_kb_column_holding_a_type_name_falls_back_to_the_title(tmp_path):
    # Export-Csv writes a StringCollection property as its type name, not its items.
    path = write(tmp_path, "wsus.csv", "FullDomainName,OSDescription,KnowledgebaseArticles,Title,UpdateInstallationState\n"
                                       f"h1,{R2},System.Collections.Specialized.StringCollection,"
                                       "2021-10 Security Monthly Quality Rollup (KB5006714),Installed\n")
    result = read_exports([ExportSource(path)])
    assert result["records"]["h1"]["evidence"]["hotfixes"] == ["KB5006714"]


def test_a_line_break_inside_a_quoted_cell_stays_in_its_row(tmp_path):
    # a quoted cell with a line break, and an unquoted one with a Unicode line separator (U+2028)
    content = ('host,os_name,os_version,hotfixes\n"h1","Windows Server 2012 R2\nStandard",6.3.9600,KB5006714\n'
               "h2,Windows\u2028Server 2012 R2,6.3.9600,KB5006714\n" + GOOD)
    result = read_exports([ExportSource(write(tmp_path, "e.csv", content))])
    assert result["bad_rows"] == []
    assert list(result["records"]) == ["h1", "h2", "good1"]
    assert result["records"]["good1"]["sources"][0]["first_row"] == 4    # a record is a row, however many lines
