"""Servicing on the emulated hosts (emulator.servicing): cabinets as [MS-CAB] lays them out, and what expand,
DISM, pkgmgr, eventcreate and winrm do to the model, run the way a script runs them. Sources are in the module."""

from __future__ import annotations

import pytest

from emulator import servicing
from emulator.pwsh.dotnet import run_script
from emulator.pwsh.runtime import ScriptError, UnsupportedConstruct
from emulator.windows import CBS, build_host
from support import cab

PACKAGES = CBS + r"\Packages"


def host(os="ws2012r2", **fixture):
    return build_host("h", {"os": os, **fixture})


def put(model, path, data):
    servicing.write_file(model, path, data)
    model.directories.add(servicing.norm(path.rsplit("\\", 1)[0]))


def dism(model, cab_path):
    return run_script(model, f'$out = @(& "$env:SystemRoot\\System32\\dism.exe" /online /add-package '
                             f'"/packagepath:{cab_path}" /quiet /norestart); $LASTEXITCODE; $out.Count')


def test_a_cabinet_reads_back_file_by_file_across_blocks():
    big = bytes(range(256)) * 300    # more than one 32 KB CFDATA block
    files = [("update.mum", b"<assembly/>"), ("payload.dat", big), ("empty.txt", b"")]
    assert servicing.read_cabinet(cab.write_cabinet(files)) == files


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04" + b"\0" * 40, cab.write_cabinet([("a", b"x")])[:-1]])
def test_what_is_no_cabinet_is_refused(data):
    with pytest.raises(servicing.CabinetError):
        servicing.read_cabinet(data)


def test_a_compressed_folder_is_not_modelled():
    data = bytearray(cab.write_cabinet([("a", b"x")]))
    data[36 + 6] = 1   # CFFOLDER.typeCompress = MSZIP
    with pytest.raises(UnsupportedConstruct):
        servicing.read_cabinet(bytes(data))


def test_expand_writes_every_file_of_a_msu():
    model = host()
    put(model, r"C:\Windows\Temp\u\a.msu", cab.msu("windows8.1", "KB5006714", "6.3.9600"))
    out = run_script(model, r"[void][System.IO.Directory]::CreateDirectory('C:\Windows\Temp\u\x')"
                     "\n$o = @(& expand.exe -F:* 'C:\\Windows\\Temp\\u\\a.msu' 'C:\\Windows\\Temp\\u\\x'); $LASTEXITCODE\n"
                     "[System.IO.Directory]::GetFiles('C:\\Windows\\Temp\\u\\x')")
    assert out[0] == 0
    assert sorted(name.rsplit("\\", 1)[1] for name in out[1:]) == [
        "WSUSSCAN.cab", "Windows8.1-KB5006714-x64-pkgProperties.txt", "Windows8.1-KB5006714-x64.cab"]


def test_dism_installs_a_rollup_pending_a_restart():
    model = host()
    rollup = cab.package_cab("KB5006714", "6.3.9600", package="Package_for_RollupFix", version="9600.20144.1.5")
    put(model, r"C:\t\r.cab", rollup)
    assert dism(model, r"C:\t\r.cab") == [3010, 0]
    key = model.registry.open(PACKAGES + r"\Package_for_RollupFix~31bf3856ad364e35~amd64~~9600.20144.1.5")
    assert key.get("CurrentState") == 96
    assert model.registry.open(CBS + r"\RebootPending") is not None
    assert any(row["HotFixID"] == "KB5006714" for row in model.qfe)
    assert model.events[-1]["source"] == "Microsoft-Windows-Servicing"


def test_a_servicing_stack_update_installs_without_a_restart():
    model = host("ws2008r2")
    put(model, r"C:\t\s.cab", cab.package_cab("KB4490628", "6.1.7601", restart="never", release_type="Update"))
    assert dism(model, r"C:\t\s.cab") == [0, 0]
    assert model.registry.open(PACKAGES + r"\Package_for_KB4490628~31bf3856ad364e35~amd64~~6.1.1.0") \
        .get("CurrentState") == 112
    assert model.registry.open(CBS + r"\RebootPending") is None


@pytest.mark.parametrize("applies_to, architecture", [("6.1.7601", "x64"), ("6.3.9600", "x86")])
def test_a_package_for_another_build_or_architecture_is_not_applicable(applies_to, architecture):
    model = host()
    put(model, r"C:\t\p.cab", cab.package_cab("KB5006714", applies_to, architecture))
    code, lines = dism(model, r"C:\t\p.cab")
    assert code == -2146498530 and lines > 0      # 0x800f081e as $LASTEXITCODE holds it
    assert not any(row["HotFixID"] == "KB5006714" for row in model.qfe)


def test_a_missing_servicing_stack_gives_0x800f0823_until_it_is_installed():
    model = host("ws2008r2", servicing={"stack_required": {"KB5006743": "KB4490628"}})
    put(model, r"C:\t\u.cab", cab.package_cab("KB5006743", "6.1.7601"))
    put(model, r"C:\t\s.cab", cab.package_cab("KB4490628", "6.1.7601", restart="never"))
    assert dism(model, r"C:\t\u.cab")[0] == -2146498525
    assert dism(model, r"C:\t\s.cab")[0] == 0
    assert dism(model, r"C:\t\u.cab")[0] == 3010


def test_disk_full_and_failing_installers_come_from_the_fixture():
    model = host(servicing={"free_disk_mb": 100, "install_mb": 500})
    put(model, r"C:\t\p.cab", cab.package_cab("KB5006714", "6.3.9600"))
    assert dism(model, r"C:\t\p.cab")[0] == -2147024784      # 0x80070070
    failing = host(servicing={"install_fails": {"KB5006714": "0x800f0922"}})
    put(failing, r"C:\t\p.cab", cab.package_cab("KB5006714", "6.3.9600"))
    assert dism(failing, r"C:\t\p.cab")[0] == -2146498270


def test_an_account_that_is_not_an_administrator_gets_740_and_nothing_changes():
    model = host(administrator=False)
    put(model, r"C:\t\p.cab", cab.package_cab("KB5006714", "6.3.9600"))
    before = list(model.qfe)
    assert dism(model, r"C:\t\p.cab")[0] == 740
    assert model.qfe == before


def test_server_2008_has_pkgmgr_and_no_dism():
    model = host("ws2008")
    put(model, r"C:\t\p.cab", cab.package_cab("KB5006736", "6.0.6003"))
    with pytest.raises(ScriptError):
        dism(model, r"C:\t\p.cab")
    out = run_script(model, r"& C:\Windows\System32\pkgmgr.exe /ip /m:C:\t\p.cab /quiet /norestart; $LASTEXITCODE")
    assert out == [3010]
    assert any(row["HotFixID"] == "KB5006736" for row in model.qfe)


def test_dism_removes_a_package_pending_a_restart():
    model = host()
    put(model, r"C:\t\p.cab", cab.package_cab("KB5006729", "6.3.9600"))
    dism(model, r"C:\t\p.cab")
    name = "Package_for_KB5006729~31bf3856ad364e35~amd64~~6.3.1.0"
    out = run_script(model, f"$null = dism.exe /online /remove-package /packagename:{name} /quiet /norestart; "
                            "$LASTEXITCODE")
    assert out == [3010]
    assert model.registry.open(PACKAGES + "\\" + name).get("CurrentState") == 5
    assert not any(row["HotFixID"] == "KB5006729" for row in model.qfe)


def test_dism_without_norestart_is_not_modelled():
    model = host()
    with pytest.raises(UnsupportedConstruct):
        run_script(model, r"dism.exe /online /add-package /packagepath:C:\x.cab /quiet")


def test_eventcreate_writes_the_application_log_for_administrators_only():
    model = host()
    run_script(model, "$null = eventcreate.exe /L APPLICATION /T INFORMATION /SO codesign.windows /ID 100 /D 'hi'")
    assert model.events == [{"log": "Application", "source": "codesign.windows", "id": 100, "type": "Information",
                             "message": "hi"}]
    user = host(administrator=False)
    assert run_script(user, "$null = eventcreate.exe /L APPLICATION /T INFORMATION /SO s /ID 1 /D x; $LASTEXITCODE") \
        == [1]
    assert user.events == []


@pytest.mark.parametrize("os, fixture, quota", [
    ("ws2008r2", {}, 150), ("ws2012r2", {}, 1024), ("ws2012r2", {"max_memory_per_shell_mb": 300}, 300)])
def test_winrm_prints_the_shell_memory_quota(os, fixture, quota):
    out = run_script(host(os, servicing=fixture), "winrm get winrm/config/winrs")
    assert f"    MaxMemoryPerShellMB = {quota}" in out


def test_files_written_in_chunks_land_on_the_disk_and_hash_as_dotnet_does():
    model = host()
    out = run_script(model, "[void][System.IO.Directory]::CreateDirectory('C:\\Windows\\Temp\\a\\b')\n"
                            "$s = New-Object System.IO.FileStream -ArgumentList 'C:\\Windows\\Temp\\a\\b\\f', 'Create'\n"
                            "$s.Write([System.Convert]::FromBase64String('YWJj'), 0, 3); $s.Close()\n"
                            "$s = New-Object System.IO.FileStream -ArgumentList 'C:\\Windows\\Temp\\a\\b\\f', 'Append'\n"
                            "$s.Length; $s.Write([System.Convert]::FromBase64String('ZGVm'), 0, 3); $s.Close()\n"
                            "$h = [System.Security.Cryptography.SHA256]::Create()\n"
                            "[System.BitConverter]::ToString($h.ComputeHash([System.IO.File]::OpenRead("
                            "'C:\\Windows\\Temp\\a\\b\\f')))")
    assert out[0] == 3
    assert out[1].replace("-", "").lower() == "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721"
    assert servicing.read_file(model, r"c:\windows\temp\a\b\F") == b"abcdef"
    with pytest.raises(ScriptError):
        run_script(model, "$ErrorActionPreference = 'Stop'; $s = New-Object System.IO.FileStream -ArgumentList 'C:\\nowhere\\f', 'Create'")


def test_a_32_bit_powershell_reaches_the_64_bit_dism_through_sysnative_only():
    # File system redirector: Sysnative exists for 32-bit processes on 64-bit Windows only.
    wow64 = host("ws2019", powershell_bits=32)
    put(wow64, r"C:\t\p.cab", cab.package_cab("KB5005625", "10.0.17763"))
    assert dism(wow64, r"C:\t\p.cab") == [3010, 0]   # System32 here is SysWOW64, where a dism.exe exists too
    out = run_script(wow64, r'$null = & "$env:SystemRoot\Sysnative\dism.exe" /online /add-package '
                            r'/packagepath:C:\t\p.cab /quiet /norestart; $LASTEXITCODE; $env:PROCESSOR_ARCHITEW6432')
    assert out == [0, "AMD64"]   # already installed: nothing to do
    native = host("ws2019")
    with pytest.raises(ScriptError):
        run_script(native, r'& "$env:SystemRoot\Sysnative\dism.exe" /online')


def test_an_update_that_cannot_be_queued_gets_0x800f0806_while_another_package_is_pending():
    model = host(servicing={"pending_blocks": ["KB5006714"]})
    put(model, r"C:\t\p.cab", cab.package_cab("KB5006714", "6.3.9600"))
    put(model, r"C:\t\q.cab", cab.package_cab("KB5006729", "6.3.9600"))
    assert dism(model, r"C:\t\p.cab")[0] == 3010, "nothing pending yet: it installs"
    fresh = host(servicing={"pending_blocks": ["KB5006714"]})
    put(fresh, r"C:\t\p.cab", cab.package_cab("KB5006714", "6.3.9600"))
    put(fresh, r"C:\t\q.cab", cab.package_cab("KB5006729", "6.3.9600"))
    assert dism(fresh, r"C:\t\q.cab")[0] == 3010      # pending a restart
    assert dism(fresh, r"C:\t\p.cab")[0] == -2146498554   # 0x800f0806
    assert not any(row["HotFixID"] == "KB5006714" for row in fresh.qfe)


def test_a_damaged_component_store_gives_0x800f081f():
    model = host(servicing={"component_store_corrupt": True})
    put(model, r"C:\t\p.cab", cab.package_cab("KB5006714", "6.3.9600"))
    assert dism(model, r"C:\t\p.cab")[0] == -2146498529   # 0x800f081f
    assert not any(row["HotFixID"] == "KB5006714" for row in model.qfe)


def test_a_connection_dropped_during_install_still_installs_once():
    model = host(servicing={"connection_drops_during_install": True})
    put(model, r"C:\t\p.cab", cab.package_cab("KB5006714", "6.3.9600"))
    assert dism(model, r"C:\t\p.cab")[0] == 3010
    assert model.connection_drop_pending is True and any(row["HotFixID"] == "KB5006714" for row in model.qfe)
    assert "connection_drops_during_install" not in model.servicing, "once"


def test_cbs_keeps_the_manifest_of_each_package_it_adds_naming_its_kb():
    model = host()
    rollup = cab.package_cab("KB5006714", "6.3.9600", package="Package_for_RollupFix", version="9600.20144.1.5")
    put(model, r"C:\t\r.cab", rollup)
    dism(model, r"C:\t\r.cab")
    text = run_script(model, "[System.IO.File]::ReadAllText('C:\\Windows\\servicing\\Packages\\"
                             "Package_for_RollupFix~31bf3856ad364e35~amd64~~9600.20144.1.5.mum')")[0]
    assert 'identifier="KB5006714"' in text
    assert run_script(model, "[System.IO.File]::Exists('C:\\Windows\\servicing\\Packages\\nothing.mum')") == [False]


def test_any_listed_servicing_stack_serves_the_update_and_a_superseded_one_is_not_applicable():
    later = {"stack_required": {"KB5006669": ["KB5005698", "KB5017396"]}, "superseded_by": {"KB5005698": ["KB5017396"]}}
    without = host("ws2016", ubr=4651, servicing=later)
    put(without, r"C:\t\u.cab", cab.package_cab("KB5006669", "10.0.14393"))
    assert dism(without, r"C:\t\u.cab")[0] == -2146498525      # 0x800f0823: no servicing stack update yet
    model = host("ws2016", ubr=4651, updates=[{"kb": "KB5017396"}], servicing=later)
    put(model, r"C:\t\s.cab", cab.package_cab("KB5005698", "10.0.14393", restart="never"))
    put(model, r"C:\t\u.cab", cab.package_cab("KB5006669", "10.0.14393"))
    assert dism(model, r"C:\t\s.cab")[0] == -2146498530          # 0x800f081e: superseded by KB5017396
    assert not any(row["HotFixID"] == "KB5005698" for row in model.qfe)
    assert dism(model, r"C:\t\u.cab")[0] == 3010                 # the later stack serves the cumulative update
