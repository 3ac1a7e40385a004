# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recognise a Windows version from evidence, from ansible.windows.setup facts, or from text.

The build number decides (ProductName still says "Windows 10" on Windows 11); the name, the
installation type or the product type decide only between server and client where the same
build is both (6.2.9200 is Server 2012 or Windows 8; 6.0 is Server 2008 or Vista).
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from ansible_collections.codesign.windows.plugins.plugin_utils._catalog import (
    DEFAULT_CATALOG,
    NATIVE_FROM_BUILD,
    Catalog,
    OsRow,
    Product,
)

MAX_BUILD = 65535
MAX_UBR = 65535


class RecognitionError(ValueError):
    """The OS cannot be recognised; the message says why in words a person reads."""


@dataclass(frozen=True)
class WindowsVersion:
    name: str
    row: OsRow
    major: int
    minor: int
    build: int | None
    ubr: int | None
    server: bool | None
    release: str | None = None

    @property
    def version(self) -> str:
        text = f"{self.major}.{self.minor}"
        if self.build is not None:
            text += f".{self.build}"
            if self.ubr is not None:
                text += f".{self.ubr}"
        return text

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "name": self.name,
            "row": self.row.id,
            "row_name": self.row.name,
            "family": self.row.family,
            "version": self.version,
            "major": self.major,
            "minor": self.minor,
            "build": self.build,
            "ubr": self.ubr,
            "server": self.server,
            "release": self.release,
            "end_of_support": self.row.end_of_support,
        }


# ASCII digits only: Windows writes its versions with them, and a host's other digits are no version.
_VERSION_RE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{1,10})(?:\.(\d{1,10}))?(?![\d.])", re.ASCII)
_RELEASE_RE = re.compile(r"\b(1[5-9]0[1-9]|1511|2004|\d\dh[12])\b", re.ASCII)
_CLIENT_NAME_RE = re.compile(r"\bwindows\s+(?:7|8|8\.1|10|11|vista|xp)\b")
_LTSC_RE = re.compile(r"\blts[bc] (2015|2016|2019|2021|2024)\b|\b(2015|2016|2019|2021|2024) lts[bc]\b")
_LTSC = {"2015": "1507", "2016": "1607", "2019": "1809", "2021": "21H2", "2024": "24H2"}


def _normalize_name(text: str) -> str:
    text = text.lower()
    for noise in ("microsoft", "(r)", "(tm)", "\u00ae", "\u2122", ",", "\u00a0"):
        text = text.replace(noise, " ")
    text = re.sub(r"\bversion\b", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def server_from_hints(name: t.Any = None, installation_type: t.Any = None, product_type: t.Any = None) -> bool | None:
    """True for a server, False for a client, None when nothing says."""
    if isinstance(installation_type, str) and installation_type.strip():
        value = installation_type.strip().lower()
        if value == "client":
            return False
        if "server" in value:
            return True
    if isinstance(product_type, int) and not isinstance(product_type, bool):
        if product_type == 1:
            return False
        if product_type in (2, 3):
            return True
    if isinstance(product_type, str) and product_type.strip():
        value = product_type.strip().lower()
        if value in ("workstation", "1"):
            return False
        if value in ("server", "domain_controller", "2", "3"):
            return True
    if isinstance(name, str) and name.strip():
        normalized = _normalize_name(name)
        if "server" in normalized or "azure stack hci" in normalized:
            return True
        if _CLIENT_NAME_RE.search(normalized):
            return False
    return None


def _pick_product(products: list[Product], server: bool | None) -> Product | None:
    if not products:
        return None
    if server is not None:
        exact = [p for p in products if p.server is server or p.server is None]
        if exact:
            return exact[0]
        return None
    if len({p.row for p in products}) == 1 and len(products) == 1:
        return products[0]
    return None


def _row_for_build(catalog: Catalog, major: int, minor: int, build: int, server: bool | None) -> tuple[OsRow, str, str | None]:
    """The catalog row and a display name for a version; RecognitionError when none fits."""
    if major == 10 and minor == 0:
        if build >= NATIVE_FROM_BUILD:
            products = [p for p in catalog.products if p.major == 10 and p.build == build]
            product = _pick_product(products, server)
            if product is None and products and server is None:
                names = " or ".join(p.name for p in products)
                return catalog.row("win11_and_later"), names, products[0].release
            if product is not None:
                return catalog.row(product.row), product.name, product.release
            kind = {True: "Windows Server", False: "Windows 11"}.get(server, "Windows")  # type: ignore[arg-type]
            return catalog.row("win11_and_later"), f"{kind} (build {build})", None
        products = [p for p in catalog.products if p.major == 10 and p.build == build]
        if not products:
            raise RecognitionError(f"10.0.{build} is not a released Windows 10 or Windows Server build")
        product = _pick_product(products, server)
        if product is None:
            product = products[0]
            name = " / ".join(p.name for p in products) if len(products) > 1 else product.name
            return catalog.row(product.row), name, product.release
        return catalog.row(product.row), product.name, product.release

    if major == 5 and minor in (0, 1, 2):
        products = [p for p in catalog.products if p.major == 5 and p.minor == minor]
        product = _pick_product(products, server) or products[0]
        name = product.name if (len(products) == 1 or server is not None) else " / ".join(p.name for p in products)
        return catalog.row(product.row), name, None

    if major == 6 and minor in (0, 1, 2, 3):
        products = [p for p in catalog.products if p.major == 6 and p.minor == minor]
        rows = {p.row for p in products}
        product = _pick_product(products, server)
        if product is None:
            if len(rows) > 1:
                both = " or ".join(p.name for p in products)
                raise RecognitionError(f"{major}.{minor}.{build} is {both}, and nothing says whether this host is "
                                       "a server or a client (give installation_type or the product name)")
            product = products[0]
            name = " / ".join(p.name for p in products)
        else:
            name = product.name
        row = catalog.row(product.row)
        if build not in row.builds:
            raise RecognitionError(f"{major}.{minor}.{build} is not a known {name} build "
                                   f"(expected {', '.join(str(b) for b in row.builds)})")
        return row, name, None

    raise RecognitionError(f"{major}.{minor}.{build} is not a Windows version this catalog knows")


def parse_version(text: str) -> tuple[int, int, int, int | None] | None:
    match = _VERSION_RE.search(text)
    if not match:
        return None
    major, minor, build = (int(match.group(i)) for i in (1, 2, 3))
    revision = int(match.group(4)) if match.group(4) is not None else None
    return major, minor, build, revision


def _check_numbers(major: int, minor: int, build: int, ubr: int | None) -> None:
    if build > MAX_BUILD:
        raise RecognitionError(f"build {build} is out of range (Windows builds are below {MAX_BUILD + 1})")
    if ubr is not None and not 0 <= ubr <= MAX_UBR:
        raise RecognitionError(f"UBR {ubr} is out of range (0 to {MAX_UBR})")
    if major > 99 or minor > 99:
        raise RecognitionError(f"{major}.{minor} is not a Windows version")


def recognize(major: int, minor: int, build: int, ubr: int | None = None, server: bool | None = None,
              catalog: Catalog = DEFAULT_CATALOG) -> WindowsVersion:
    _check_numbers(major, minor, build, ubr)
    row, name, release = _row_for_build(catalog, major, minor, build, server)
    if major != 10:
        ubr = None  # 6.x has no UBR: the fourth number there is not an update revision
    return WindowsVersion(name=name, row=row, major=major, minor=minor, build=build, ubr=ubr, server=server,
                          release=release)


def _product_by_name(catalog: Catalog, normalized: str) -> tuple[Product | None, str | None]:
    """Find the product a typed name means. Returns (product, reason-if-ambiguous)."""
    release_match = _RELEASE_RE.search(normalized)
    release = release_match.group(1).upper() if release_match else None
    ltsc = _LTSC_RE.search(normalized)
    if ltsc:
        release = _LTSC[ltsc.group(1) or ltsc.group(2)]

    server_year = re.search(r"\bserver\s+(2025|2022|2019|2016|2012 ?r2|2012|2008 ?r2|2008|2003 ?r2|2003|2000)\b",
                            normalized)
    if server_year or re.search(r"\bwindows (2025|2022|2019|2016|2012 ?r2|2012|2008 ?r2|2008|2003|2000)\b",
                                normalized):
        year = (server_year or re.search(r"\bwindows (\S+(?: r2)?)", normalized)).group(1).replace(" ", "")
        year = year.replace("r2", " r2")
        wanted = "windows 2000" if year == "2000" else f"windows server {year}"
        if year == "2003 r2":
            wanted = "windows server 2003 r2"
        for product in catalog.products:
            if wanted in product.aliases or wanted == product.name.lower():
                return product, None
    if "server" in normalized and release:
        for product in catalog.products:
            if product.server is not False and product.release == release and product.major == 10:
                if product.server is True or f"windows server {release.lower()}" in product.aliases:
                    return product, None
    if re.search(r"\bwindows 11\b", normalized):
        if release:
            for product in catalog.products:
                if product.name == f"Windows 11 {release}":
                    return product, None
            return None, f"Windows 11 has no release {release}"
        return Product("Windows 11", 10, 0, NATIVE_FROM_BUILD, False, "win11_and_later"), None
    if re.search(r"\bwindows 10\b", normalized):
        if not release:
            return None, ("Windows 10 without a release (such as 21H2 or 1809) or a build number cannot be "
                          "judged: each release needs a different update")
        for product in catalog.products:
            if product.name == f"Windows 10 {release}":
                return product, None
            if release == "1809" and product.name == "Windows 10 1809":
                return product, None
        return None, f"Windows 10 has no release {release}"
    simple = (("windows 8.1", "Windows 8.1"), ("windows 8", "Windows 8"), ("windows 7", "Windows 7"),
              ("windows vista", "Windows Vista"), ("windows xp x64", "Windows XP Professional x64"),
              ("windows xp professional x64", "Windows XP Professional x64"), ("windows xp", "Windows XP"),
              ("windows 2000", "Windows 2000"))
    for needle, product_name in simple:
        if re.search(r"\b" + re.escape(needle) + r"(?![\d.])", normalized):
            for product in catalog.products:
                if product.name == product_name:
                    return product, None
    return None, None


def from_text(text: t.Any, catalog: Catalog = DEFAULT_CATALOG, server: bool | None = None) -> WindowsVersion:
    """Recognise what a person typed: "Windows Server 2012 R2", "10.0.19044.1288", "Windows 11 23H2"..."""
    if not isinstance(text, str):
        raise RecognitionError(f"expected a Windows name or version string, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise RecognitionError("the OS string is empty")
    if len(stripped) > 300:
        raise RecognitionError("the OS string is too long to be a Windows name or version")
    if catalog.has_row(stripped):
        row = catalog.row(stripped)
        return WindowsVersion(row.name, row, row.major, row.minor, row.builds[0] if row.builds else None, None, None)
    if server is None:
        server = server_from_hints(name=stripped)
    numbers = parse_version(stripped)
    if numbers:
        major, minor, build, revision = numbers
        return recognize(major, minor, build, revision if major == 10 else None, server, catalog)
    normalized = _normalize_name(stripped)
    product, problem = _product_by_name(catalog, normalized)
    if product is None:
        raise RecognitionError(problem or f"{stripped!r} is not a Windows version this catalog knows")
    build = product.build
    if product.major == 6 and product.minor == 1 and re.search(r"\brtm\b|\bno sp\b", normalized):
        build = 7600
    if product.major == 6 and product.minor == 0 and re.search(r"\bsp1\b|service pack 1\b", normalized):
        build = 6001
    row = catalog.row(product.row)
    return WindowsVersion(product.name, row, product.major, product.minor, build, None,
                          product.server if product.server is not None else server, product.release)


def from_setup_facts(facts: t.Mapping[str, t.Any], catalog: Catalog = DEFAULT_CATALOG) -> WindowsVersion:
    """Recognise the OS from ansible.windows.setup facts (with or without the ansible_ prefix)."""
    def fact(name: str) -> t.Any:
        return facts.get(f"ansible_{name}", facts.get(name))

    distribution = fact("distribution")
    version = fact("distribution_version")
    server = server_from_hints(distribution, fact("os_installation_type"), fact("os_product_type"))
    if isinstance(version, str) and parse_version(version):
        major, minor, build, _revision = parse_version(version)  # type: ignore[misc]
        # setup reports [Environment]::OSVersion, whose revision is 0 on 10.x: not the UBR.
        return recognize(major, minor, build, None, server, catalog)
    if isinstance(distribution, str) and distribution.strip():
        return from_text(distribution, catalog, server)
    raise RecognitionError("the setup facts have neither ansible_distribution_version nor ansible_distribution")


def looks_like_setup_facts(value: t.Mapping[str, t.Any]) -> bool:
    return any(key in value for key in ("ansible_distribution", "ansible_distribution_version", "distribution_version",
                                        "ansible_os_family", "ansible_facts"))
