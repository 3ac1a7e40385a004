"""What the tests expect of every catalog row, copied by hand from the facts, never from the catalog.

Each entry cites the line of `acs-facts.md` (the project's reference of facts with sources, kept beside
the architecture notes) it was copied from, and the source column of `docs/catalog.md` where the facts
file says nothing (service packs, Vista). Nothing here imports `plugins/plugin_utils/_catalog.py`: a
wrong number in the catalog must disagree with this table, not be copied into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def kbs(text: str) -> tuple[str, ...]:
    return tuple(f"KB{number}" for number in text.replace(",", " ").split())


@dataclass(frozen=True)
class Expected:
    row: str                          # the catalog row id (docs/catalog.md, column "id")
    kind: str                         # ubr, rollup, native, no_path
    version: str                      # major.minor
    builds: tuple[int, ...]
    cite: str                         # where the numbers come from
    kb: str | None = None             # 10.x: the cumulative update
    min_ubr: int | None = None
    monthly: str | None = None        # 6.x: October 2021 monthly rollup
    security_only: str | None = None  # 6.x: October 2021 security-only update
    fixed_build: str | None = None    # 6.x: MSRC fixed build (CVE-2021-40449)
    later_rollups: tuple[str, ...] = ()
    prerequisites: tuple[str, ...] = ()             # needed on every build of the row
    service_pack: tuple[str, int] | None = None     # (KB, the only build that needs it)
    or_later: tuple[str, ...] = ()                  # prerequisites that a later update of their kind satisfies
    later_prerequisites: tuple[str, ...] = ()       # the later updates known to satisfy them (servicing stacks)
    esu_only: bool = False
    installation_type: str = "Server"  # what a test host of this row reports (decides 6.2 and 6.0)
    extra: dict = field(default_factory=dict)

    @property
    def required_kb(self) -> list[str]:
        """What a verdict's required_kb must be (docs/verdict.md: monthly first, security-only second)."""
        if self.kind == "ubr":
            return [self.kb]
        if self.kind == "rollup":
            return [self.monthly, self.security_only]
        return []

    @property
    def fixed(self) -> tuple[int, int]:
        """(build, revision) of the fixed build: 6.3.9600.20144 -> (9600, 20144)."""
        parts = self.fixed_build.split(".")
        return int(parts[2]), int(parts[3])


FACTS = "acs-facts.md"

EXPECTED: tuple[Expected, ...] = (
    # ---- section 2: Windows 10/11 and Server 2016+, build and UBR
    Expected("win11_and_later", "native", "10.0", (22000, 22621, 22631, 25398, 26100, 26200),
             f"{FACTS} line 37 (22000+: native; builds from docs/catalog.md)", installation_type="Client"),
    Expected("win10_22h2", "native", "10.0", (19045,), f"{FACTS} line 38", installation_type="Client"),
    Expected("win10_21h2", "ubr", "10.0", (19044,), f"{FACTS} line 39 and note A (strict policy)",
             kb="KB5011487", min_ubr=1586, installation_type="Client"),
    Expected("ws2022", "ubr", "10.0", (20348,), f"{FACTS} line 40", kb="KB5005619", min_ubr=261),
    Expected("win10_2004_21h1", "ubr", "10.0", (19041, 19042, 19043), f"{FACTS} line 41",
             kb="KB5005611", min_ubr=1266, installation_type="Client"),
    Expected("win10_1909", "ubr", "10.0", (18363,), f"{FACTS} line 42", kb="KB5005624", min_ubr=1830,
             installation_type="Client"),
    Expected("ws2019", "ubr", "10.0", (17763,), f"{FACTS} line 43", kb="KB5005625", min_ubr=2210),
    Expected("ws2016", "ubr", "10.0", (14393,), f"{FACTS} line 44; the servicing stack update from Microsoft's psSDP "
             "DC_HotfixRollups.ps1 (\"KB5005698: Servicing stack update for Windows 10, version 1607: September 14, "
             "2021\") and the Azure Stack Hub App Service release notes; the later ones from Microsoft Update Catalog "
             "titles 2022-03 to 2023-03 \"Servicing Stack Update for Windows Server 2016\"",
             kb="KB5006669", min_ubr=4704, prerequisites=("KB5005698",), or_later=("KB5005698",),
             later_prerequisites=kbs("5011570, 5014026, 5016058, 5017095, 5017396, 5023788")),
    Expected("win10_1507", "ubr", "10.0", (10240,), f"{FACTS} line 45", kb="KB5006675", min_ubr=19086,
             installation_type="Client"),
    Expected("win10_no_path", "no_path", "10.0", (10586, 15063, 16299, 17134, 18362), f"{FACTS} line 53",
             installation_type="Client"),
    # ---- section 3: Windows 6.x, monthly rollup or security-only
    Expected("win81_2012r2", "rollup", "6.3", (9600,), f"{FACTS} lines 64 and 76",
             monthly="KB5006714", security_only="KB5006729", fixed_build="6.3.9600.20144",
             prerequisites=("KB2919355",),
             later_rollups=kbs("5007247, 5008263, 5009624, 5010419, 5011564, 5012670, 5014011, 5014738, 5015874, "
                               "5016681, 5017367, 5018474, 5020023, 5021294, 5022352, 5022899, 5023765, 5025285, "
                               "5026415, 5027271, 5028228, 5029312, 5030269, 5031419, 5032249, 5033420, 5034171, "
                               "5034819, 5035885, 5036960, 5037823, 5039294, 5040456, 5041828, 5043138, 5044343, "
                               "5046682, 5048735, 5050048, 5052042, 5053887, 5055557, 5058403, 5061018, 5062597, "
                               "5063950, 5065507, 5066873, 5070886")),
    Expected("ws2012", "rollup", "6.2", (9200,), f"{FACTS} lines 65 and 75",
             monthly="KB5006739", security_only="KB5006732", fixed_build="6.2.9200.23490",
             later_rollups=kbs("5007260, 5008277, 5009586, 5010392, 5011535, 5012650, 5014017, 5014747, 5015863, "
                               "5016672, 5017370, 5018457, 5020009, 5021285, 5022348, 5022903, 5023756, 5025287, "
                               "5026419, 5027283, 5028232, 5029295, 5030278, 5031442, 5032247, 5033429, 5034184, "
                               "5034830, 5035930, 5036969, 5037778, 5039260, 5040485, 5041851, 5043125, 5044342, "
                               "5046697, 5048699, 5050004, 5052020, 5053886, 5055581, 5058451, 5061059, 5062592, "
                               "5063906, 5065509, 5066875, 5070887")),
    Expected("win8", "no_path", "6.2", (9200,), f"{FACTS} line 53 (Windows 8, 6.2 client)",
             installation_type="Client"),
    Expected("ws2008", "rollup", "6.0", (6001, 6002, 6003), f"{FACTS} lines 66 and 74; SP2 from docs/catalog.md "
             "source column (the fixed build is an SP2 build)",
             monthly="KB5006736", security_only="KB5006715", fixed_build="6.0.6003.21251",
             prerequisites=("KB4474419", "KB4493730"), service_pack=("KB948465", 6001), esu_only=True,
             or_later=("KB4493730",),
             later_rollups=kbs("5007263, 5008274, 5009627, 5010384, 5011534, 5012658, 5014010, 5014752, 5015866, "
                               "5016669, 5017358, 5018450, 5020019, 5021289, 5022340, 5022890, 5023755, 5025271, "
                               "5026408, 5027279, 5028222, 5029318, 5030271, 5031416, 5032254, 5033422, 5034173")),
    Expected("vista", "no_path", "6.0", (6000, 6001, 6002, 6003),
             "docs/catalog.md source column (KB5022661 does not list Vista)", installation_type="Client"),
    Expected("win7_2008r2", "rollup", "6.1", (7600, 7601), f"{FACTS} lines 67 and 73; SP1 and KB4538483 from "
             "docs/catalog.md source column",
             monthly="KB5006743", security_only="KB5006728", fixed_build="6.1.7601.25740",
             prerequisites=("KB4474419", "KB4490628", "KB4538483"), service_pack=("KB976932", 7600), esu_only=True,
             or_later=("KB4490628",),
             later_rollups=kbs("5007236, 5008244, 5009610, 5010404, 5011552, 5012626, 5014012, 5014748, 5015861, "
                               "5016676, 5017361, 5018454, 5020000, 5021291, 5022338, 5022872, 5023769, 5025279, "
                               "5026413, 5027275, 5028240, 5029296, 5030265, 5031408, 5032252, 5033433, 5034169")),
    # ---- section 3, last row: 5.x
    Expected("legacy_5x", "no_path", "5.x", (2195, 2600, 3790), f"{FACTS} line 68"),
)

BY_ROW = {entry.row: entry for entry in EXPECTED}
WITH_MINIMUM = tuple(entry for entry in EXPECTED if entry.kind in ("ubr", "rollup"))
UBR_ROWS = tuple(entry for entry in EXPECTED if entry.kind == "ubr")
ROLLUP_ROWS = tuple(entry for entry in EXPECTED if entry.kind == "rollup")


def os_version(entry: Expected, build: int | None = None, revision: int | None = None) -> str:
    """An os_version string a host of this row reports."""
    major_minor = {"5.x": "5.2"}.get(entry.version, entry.version)
    text = f"{major_minor}.{build if build is not None else max(entry.builds)}"
    return text if revision is None else f"{text}.{revision}"
