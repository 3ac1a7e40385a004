"""Windows 10 20H2 to 22H2 are 2004 (build 19041) with an enablement package: one cumulative update, whose packages
are versioned 19041.<UBR>, serves them all (https://support.microsoft.com/topic/kb4562830)."""

from __future__ import annotations

import pytest

from emulator import restart, servicing
from emulator.pwsh.dotnet import run_script
from emulator.windows import build_host
from support import cab


def install(model, applies_to, version):
    package = cab.package_cab("KB5005611", applies_to, package="Package_for_RollupFix", version=version)
    servicing.write_file(model, r"C:\t\u.cab", package)
    model.directories.add(servicing.norm(r"C:\t"))
    return run_script(model, '$out = @(& "$env:SystemRoot\\System32\\dism.exe" /online /add-package '
                             '"/packagepath:C:\\t\\u.cab" /quiet /norestart); $LASTEXITCODE')[0]


@pytest.mark.parametrize("os", ["win10_20h2", "win10_21h2", "win10_22h2"])
def test_an_enablement_package_build_takes_the_19041_cumulative_update_and_its_ubr(os):
    model = build_host("h", {"os": os, "ubr": 1000})
    assert install(model, "10.0.19041", "19041.1266.1.5") == 3010
    restart.boot(model, restart.RestartSettings(servicing_seconds=0))
    assert model.ubr == 1266


def test_another_build_is_still_not_applicable():
    model = build_host("h", {"os": "ws2019", "ubr": 1000})
    assert install(model, "10.0.19041", "19041.1266.1.5") == -2146498530
