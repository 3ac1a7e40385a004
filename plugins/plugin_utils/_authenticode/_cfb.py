# Copyright (c) codesign.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A compound file (the container of an MSI package) read from the bytes in memory.

Follows [MS-CFB] (https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-cfb/): a header,
a FAT of sector chains (with DIFAT sectors when it is large), a directory of 128-byte entries
linked as a tree, and a mini stream for streams under the cutoff size. Every chain is walked with a
visited set and every index is checked against the file, so a looping or out-of-range FAT chain, a
directory entry reached twice or a stream longer than its chain is refused in time proportional to
the file, before anything is hashed.
"""
from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator

from ._limits import MAX_CFB_ENTRIES, Unreadable

MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
STORAGE, STREAM, ROOT = 1, 2, 5
MAXREGSECT = 0xFFFFFFFA
ENDOFCHAIN = 0xFFFFFFFE
FREESECT = 0xFFFFFFFF
NOSTREAM = 0xFFFFFFFF
MAX_DEPTH = 32


@dataclasses.dataclass(eq=False)
class Entry:
    """One directory entry: a storage (with children), a stream, or the root storage."""

    index: int
    name_raw: bytes  # UTF-16LE with its terminator, as stored
    kind: int
    clsid: bytes
    state_bits: int
    created: int
    modified: int
    start: int
    size: int
    size_field: bytes  # the stored size's low four bytes, hashed as stored
    links: tuple[int, int, int] = (NOSTREAM, NOSTREAM, NOSTREAM)  # left sibling, right sibling, child
    children: list[Entry] = dataclasses.field(default_factory=list)
    runs: list[tuple[int, int]] = dataclasses.field(default_factory=list)  # (file offset, length) of a stream's bytes

    @property
    def name(self) -> str:
        return self.name_raw[:-2].decode("utf-16-le", "replace")


class CompoundFile:
    def __init__(self, data: memoryview):
        self.data = data
        if len(data) < 512 or bytes(data[:8]) != MAGIC:
            raise Unreadable("The compound file header is missing or truncated.")
        major, = struct.unpack_from("<H", data, 26)
        sector_shift, mini_shift = struct.unpack_from("<HH", data, 30)
        if (major, sector_shift) not in ((3, 9), (4, 12)) or mini_shift != 6:
            raise Unreadable(f"The compound file header is damaged (version {major}, sector shift {sector_shift}).")
        self.major = major
        self.sector_size = 1 << sector_shift
        # A last sector cut short still counts: reading past its end is caught where a stream is laid out.
        self.sector_count = -(-(len(data) - 512) // self.sector_size)
        (fat_sectors, first_directory, _transaction, self.mini_cutoff, first_mini_fat, mini_fat_sectors,
         first_difat, difat_sectors) = struct.unpack_from("<IIIIIIII", data, 44)
        self._claimed: set[int] = set()
        self._claimed_mini: set[int] = set()
        self.fat = self._load_fat(fat_sectors, first_difat, difat_sectors)
        self.mini_fat = self._read_table(self._chain(first_mini_fat, "the mini FAT"))
        self.entries = self._load_directory(first_directory)
        self.root = self.entries[0]
        self.mini_stream = self._chain(self.root.start, "the mini stream", self.root.size) if self.root.size else []
        self._link()

    # ------------------------------------------------------------------ sectors and chains
    def _sector(self, number: int) -> memoryview:
        if number >= self.sector_count:
            raise Unreadable(f"A sector number ({number}) points past the end of the file: the file is truncated or damaged.")
        offset = 512 + number * self.sector_size
        return self.data[offset:offset + self.sector_size]

    def _read_table(self, sectors: list[int]) -> list[int]:
        table: list[int] = []
        for number in sectors:
            chunk = self._sector(number)
            table.extend(struct.unpack(f"<{len(chunk) // 4}I", chunk[:len(chunk) // 4 * 4]))
        return table

    def _load_fat(self, fat_sectors: int, first_difat: int, difat_sectors: int) -> list[int]:
        if fat_sectors > self.sector_count:
            raise Unreadable("The compound file header names more FAT sectors than the file holds.")
        locations = list(struct.unpack_from("<109I", self.data, 76))
        seen = set()
        number = first_difat
        for _sector in range(difat_sectors):
            if number > MAXREGSECT:
                break
            if number in seen:
                raise Unreadable("The compound file's DIFAT chain loops.")
            seen.add(number)
            entries = struct.unpack(f"<{self.sector_size // 4}I", self._sector(number))
            locations.extend(entries[:-1])
            number = entries[-1]
        return self._read_table([n for n in locations[:fat_sectors] if n <= MAXREGSECT])

    def _chain(self, start: int, what: str, size: int | None = None, mini: bool = False) -> list[int]:
        """Sector numbers of the chain that starts at ``start`` (in the mini FAT when ``mini``);
        refuses loops, bad links, short chains and sectors another chain already holds."""
        fat = self.mini_fat if mini else self.fat
        claimed = self._claimed_mini if mini else self._claimed
        unit = 64 if mini else self.sector_size
        needed = None if size is None else -(-size // unit)
        chain: list[int] = []
        seen: set[int] = set()
        number = start
        while number != ENDOFCHAIN and (needed is None or len(chain) < needed):
            if number > MAXREGSECT or number >= len(fat):
                if needed is None and number == FREESECT and not chain:
                    break
                raise Unreadable(f"The FAT chain of {what} points outside the file: the file is truncated or damaged.")
            if number in seen:
                raise Unreadable(f"The FAT chain of {what} loops back on itself; the file is refused.")
            if number in claimed:
                # [MS-CFB] gives every sector to one chain; shared sectors would let many entries make
                # the reader walk the same long chain again and again.
                raise Unreadable(f"The FAT chain of {what} uses a sector another chain already uses; the file is refused.")
            seen.add(number)
            chain.append(number)
            number = fat[number]
        claimed.update(seen)
        if needed is not None and len(chain) < needed:
            raise Unreadable(f"The chain of {what} is shorter than its size: the file is truncated or damaged.")
        return chain

    # ------------------------------------------------------------------ directory
    def _load_directory(self, first: int) -> list[Entry]:
        sectors = self._chain(first, "the directory")
        if len(sectors) * self.sector_size // 128 > MAX_CFB_ENTRIES:
            raise Unreadable(f"The compound file has more than {MAX_CFB_ENTRIES} directory entries; it is refused.")
        entries = []
        for number in sectors:
            chunk = self._sector(number)
            for offset in range(0, len(chunk) - 127, 128):
                raw = chunk[offset:offset + 128]
                name_length = struct.unpack_from("<H", raw, 64)[0]
                kind = raw[66]
                (left, right, child) = struct.unpack_from("<III", raw, 68)
                state_bits, created, modified, start = struct.unpack_from("<IQQI", raw, 96)
                size = struct.unpack_from("<Q", raw, 120)[0]
                if self.major == 3:
                    size &= 0xFFFFFFFF  # version 3 files may leave garbage in the high half
                entries.append(Entry(len(entries), bytes(raw[:min(name_length, 64)]), kind, bytes(raw[80:96]),
                                     state_bits, created, modified, start, size, bytes(raw[120:124]),
                                     (left, right, child)))
        if not entries or entries[0].kind != ROOT:
            raise Unreadable("The compound file has no root storage.")
        return entries

    def _link(self) -> None:
        reached = bytearray(len(self.entries))
        reached[0] = 1
        pending = [(self.root, 0)]
        while pending:
            storage, depth = pending.pop()
            if depth > MAX_DEPTH:
                raise Unreadable(f"Storages are nested deeper than {MAX_DEPTH} levels; the file is refused.")
            siblings = [storage.links[2]]
            while siblings:
                index = siblings.pop()
                if index == NOSTREAM:
                    continue
                if index >= len(self.entries):
                    raise Unreadable("A directory entry points past the end of the directory: the file is damaged.")
                if reached[index]:
                    raise Unreadable("The compound file's directory tree loops; the file is refused.")
                reached[index] = 1
                entry = self.entries[index]
                if entry.kind not in (STORAGE, STREAM):
                    raise Unreadable("The compound file's directory tree links an unused entry.")
                storage.children.append(entry)
                siblings.extend(entry.links[:2])
                if entry.kind == STORAGE:
                    pending.append((entry, depth + 1))
                elif entry.size:
                    entry.runs = self._runs(entry)

    # ------------------------------------------------------------------ streams
    def _runs(self, entry: Entry) -> list[tuple[int, int]]:
        """(file offset, length) runs holding the stream's bytes, in order."""
        if entry.size >= self.mini_cutoff:
            sectors, unit = self._chain(entry.start, repr(entry.name), entry.size), self.sector_size
            places = [512 + number * self.sector_size for number in sectors]
        else:
            sectors = self._chain(entry.start, repr(entry.name), entry.size, mini=True)
            places = []
            for number in sectors:
                position = number * 64
                if position // self.sector_size >= len(self.mini_stream):
                    raise Unreadable(f"The stream {entry.name!r} lies outside the mini stream: the file is damaged.")
                places.append(512 + self.mini_stream[position // self.sector_size] * self.sector_size
                              + position % self.sector_size)
            unit = 64
        runs: list[tuple[int, int]] = []
        left = entry.size
        for place in places:
            length = min(unit, left)
            left -= length
            if place + length > len(self.data):
                raise Unreadable(f"The stream {entry.name!r} runs past the end of the file: the file is truncated.")
            if runs and runs[-1][0] + runs[-1][1] == place:
                runs[-1] = (runs[-1][0], runs[-1][1] + length)
            else:
                runs.append((place, length))
        return runs

    def chunks(self, entry: Entry) -> Iterator[memoryview]:
        for place, length in entry.runs:
            yield self.data[place:place + length]

    def read(self, entry: Entry) -> bytes:
        return b"".join(self.chunks(entry))
