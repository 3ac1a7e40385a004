"""The acs_export_evidence action on real files: options, paths, mappings, results."""

from __future__ import annotations

import pathlib
import shutil
from unittest.mock import MagicMock

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar

from ansible_collections.codesign.windows.plugins.action.acs_export_evidence import ActionModule

SAMPLES = pathlib.Path(__file__).resolve().parents[4] / "docs" / "samples" / "exports"


def run_action(args: dict, basedir: pathlib.Path, check_mode: bool = False) -> dict:
    loader = DataLoader()
    loader.set_basedir(str(basedir))
    task = Task()
    task.action = "codesign.windows.acs_export_evidence"
    task.args = args
    task.check_mode = check_mode
    connection = MagicMock()
    action = ActionModule(task, connection, PlayContext(), loader=loader, templar=Templar(loader=loader),
                          shared_loader_obj=None)
    return action.run(task_vars={})


@pytest.fixture
def exports(tmp_path):
    for sample in SAMPLES.iterdir():
        shutil.copy(sample, tmp_path / sample.name)
    return tmp_path


def test_reads_configmgr_files_relative_to_the_playbook(exports):
    result = run_action({"paths": ["configmgr-os.csv", "configmgr-qfe.csv"]}, exports)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert list(result["records"]) == ["SRV-SQL01", "SRV-SQL02", "SRV-FS01", "SRV-FS02", "SRV-DC01", "WS-0042",
                                       "SRV-LEGACY"]
    assert result["records"]["SRV-FS01"]["evidence"]["hotfixes"] == ["KB2919355", "KB5006714"]
    assert result["bad_rows"] == []
    assert result["msg"] == "7 hosts from 2 file(s); 0 bad row(s)"
    assert [f["path"] for f in result["files"]] == ["configmgr-os.csv", "configmgr-qfe.csv"]


def test_cmdb_with_a_mapping_file_and_per_path_formats(exports):
    result = run_action({"paths": [{"path": str(exports / "cmdb.csv"), "format": "cmdb",
                                    "mapping": "cmdb-mapping.yml"},
                                   {"path": "wsus.csv"}]}, exports)
    assert not result.get("failed"), result.get("msg")
    assert result["records"]["ERP-DB2"]["evidence"]["offline"] is True
    assert result["records"]["fs04.corp.example.com"]["evidence"]["reboot_pending"] is True
    assert result["bad_rows"][0]["file"] == "wsus.csv" and result["bad_rows"][0]["row"] == 13
    assert result["msg"] == "14 hosts from 2 file(s); 1 bad row(s) (see bad_rows)"


def test_an_inline_mapping_means_cmdb_under_auto(exports):
    result = run_action({"paths": ["cmdb.csv"], "mapping": {"host": "CI Name", "os_name": "Operating System",
                                                            "os_version": "OS Version", "hotfixes": "Patches"}},
                        exports)
    assert result["files"][0]["format"] == "cmdb"
    assert result["records"]["ERP-DB1"]["evidence"]["hotfixes"] == ["KB2919355", "KB5006714"]


def test_bad_files_are_rows_not_failures(exports):
    (exports / "empty.csv").write_bytes(b"")
    (exports / "big.csv").write_text("host,os_version\n" + "h,6.3.9600\n" * 200, encoding="utf-8")
    result = run_action({"paths": ["empty.csv", "absent.csv", "big.csv", "evidence.csv"], "max_file_size": "1KiB"},
                        exports)
    assert not result.get("failed")
    assert [(b["file"], b["row"], b["message"]) for b in result["bad_rows"]] == [
        ("empty.csv", None, "the file is empty"),
        ("absent.csv", None, "the file cannot be read: No such file or directory"),
        ("big.csv", None, "the file is 2.2 KiB, over max_file_size (1.0 KiB): raise max_file_size or split the export"),
    ]
    assert len(result["records"]) == 8 and "web01" in result["records"]


def test_max_file_size_takes_human_sizes(exports):
    small = run_action({"paths": ["evidence.csv"], "max_file_size": 100}, exports)
    assert "over max_file_size (100 bytes)" in small["bad_rows"][0]["message"]
    assert small["records"] == {}
    large = run_action({"paths": ["evidence.csv"], "max_file_size": "1MB"}, exports)
    assert large["bad_rows"] == [] and len(large["records"]) == 8


def test_check_mode_reads_the_same(exports):
    result = run_action({"paths": ["evidence.json"]}, exports, check_mode=True)
    assert not result.get("failed") and list(result["records"]) == ["web03", "web04", "kiosk01", "w11-01"]


def test_warnings_are_ansible_warnings(exports):
    (exports / "ansi.csv").write_bytes("host,os_version\r\nsrv-\u00e9,6.3.9600\r\n".encode("cp1252"))
    result = run_action({"paths": ["ansi.csv"]}, exports)
    assert result["warnings"] == ["ansi.csv: not UTF-8 (byte 21); read as Windows-1252, the code page Excel's "
                                  "\"CSV (Comma delimited)\" uses on Western systems"]
    assert "srv-\u00e9" in result["records"]


@pytest.mark.parametrize("args, message", [
    ({"paths": []}, "paths is empty"),
    ({"paths": ["x.csv"], "max_file_size": "lots"}, "max_file_size must be a size such as 256MiB"),
    ({"paths": ["x.csv"], "max_file_size": 0}, "max_file_size must be at least 1 byte"),
    ({"paths": [{"path": "x.csv", "fmt": "wsus"}]}, "paths[0] has unknown keys fmt"),
    ({"paths": [{"path": "x.csv", "format": "sccm"}]}, "paths[0].format must be one of"),
    ({"paths": [{"format": "wsus"}]}, "paths[0] must be a file path"),
    ({"paths": ["x.csv"], "format": "cmdb"}, "the cmdb format needs a mapping"),
    ({"paths": ["x.csv"], "mapping": {"host": "A", "os": "B"}}, "mapping: mapping names the field 'os'"),
    ({"paths": ["x.csv"], "mapping": "absent.yml"}, "mapping: cannot read the mapping file absent.yml"),
    ({"paths": ["x.csv"], "mapping": "broken.yml"}, "is not valid YAML"),
])
def test_wrong_options_fail_with_a_message(exports, args, message):
    (exports / "x.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (exports / "broken.yml").write_text("host: [A\n", encoding="utf-8")
    result = run_action(args, exports)
    assert result.get("failed") is True, result
    assert result["msg"].startswith("acs_export_evidence: ")
    assert message in result["msg"], result["msg"]


def test_the_documented_default_size_is_the_readers_default():
    from ansible_collections.codesign.windows.plugins.action import acs_export_evidence
    from ansible_collections.codesign.windows.plugins.plugin_utils._exports import DEFAULT_MAX_FILE_SIZE
    default = acs_export_evidence.ARGUMENT_SPEC["max_file_size"]["default"]
    assert acs_export_evidence.ActionModule._size(default) == DEFAULT_MAX_FILE_SIZE
