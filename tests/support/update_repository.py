"""An update repository for the whole emulated fleet: one test .msu for every update the catalog names.

For every catalog row that an update fixes (plugins/plugin_utils/_catalog.py: the Windows 10 cumulative updates,
the Windows 6.x monthly rollups and security-only updates) and every prerequisite the rows name (servicing stacks,
SHA-2 code signing support, the ESU preparation package, the April 2014 update), for each architecture, a .msu
built with tests/support/cab.py and named as the Microsoft Update Catalog names it
(``windows8.1-kb5006714-x64_<SHA-1>.msu``). Each package's manifest names what the real update is in CBS:

- a cumulative update or monthly rollup is ``Package_for_RollupFix`` at the version it brings Windows to (the
  row's minimum UBR on 10.x, the row's fixed build on 6.x), so that the restart after it raises the UBR or the
  kernel version as Windows does;
- a security-only update or a prerequisite is ``Package_for_KB<n>``; a servicing stack update installs without a
  restart (restart="never") and is an "Update", not a "Security Update"
  (https://learn.microsoft.com/windows/deployment/update/servicing-stack-updates).

The package applies to the build that services the row's first build (6003 for Server 2008, 7601 for Windows 7 /
2008 R2, 19041 for Windows 10 2004 to 22H2, which share one servicing baseline: emulator.windows.SERVICING_BUILD).
A service pack is a prerequisite only on the build it upgrades (Prerequisite.builds), so it is built for that build.
"""

from __future__ import annotations

import pathlib

from emulator.windows import servicing_build
from support import cab

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import ROLLUP, UBR, load_catalog
from ansible_collections.codesign.windows.plugins.plugin_utils._hotfix import OS_TAGS

ARCHITECTURES = ("x64", "x86")


def _os_tag(row) -> str:
    return OS_TAGS.get(row.id, ("windows10.0",))[0]


def _revision_version(build: int, revision: int) -> str:
    """A package version as CBS writes it: <build>.<revision>.1.<n>."""
    return f"{build}.{revision}.1.5"


def updates() -> list[dict]:
    """Every update the catalog names, once per architecture: os_tag, kb, applies_to, architecture, mum fields."""
    found: dict[tuple[str, str, str], dict] = {}

    def add(row, kb: str, build: int, **mum) -> None:
        build = servicing_build(build)
        for architecture in ARCHITECTURES:
            key = (_os_tag(row), kb, architecture)
            found.setdefault(key, {"os_tag": key[0], "kb": kb, "architecture": architecture,
                                   "applies_to": f"{row.major}.{row.minor}.{build}", "row": row.id, "mum": mum})

    for row in load_catalog().rows:
        if row.kind == UBR and row.kb and row.min_ubr is not None:
            add(row, row.kb, row.builds[0], package="Package_for_RollupFix",
                version=_revision_version(servicing_build(row.builds[0]), row.min_ubr))
        elif row.kind == ROLLUP:
            if row.monthly_rollup and row.fixed_build:
                fixed = [int(part) for part in row.fixed_build.split(".")]
                add(row, row.monthly_rollup, row.builds[0], package="Package_for_RollupFix",
                    version=_revision_version(fixed[2], fixed[3]))
            if row.security_only:
                add(row, row.security_only, row.builds[0])
        else:
            continue
        for prerequisite in row.prerequisites:
            build = prerequisite.builds[0] if prerequisite.builds else row.builds[0]
            stack = "servicing stack" in prerequisite.title.lower()
            add(row, prerequisite.kb, build,
                **({"restart": "never", "release_type": "Update"} if stack else {}))
    return list(found.values())


def write_repository(directory: pathlib.Path) -> dict[tuple[str, str, str], pathlib.Path]:
    """Write every update into ``directory``; returns (os_tag, kb, architecture) -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for update in updates():
        data = cab.msu(update["os_tag"], update["kb"], update["applies_to"], update["architecture"],
                       payload_blocks=8, **update["mum"])
        path = directory / cab.catalog_name(update["os_tag"], update["kb"], update["architecture"], data)
        path.write_bytes(data)
        paths[(update["os_tag"], update["kb"], update["architecture"])] = path
    return paths
