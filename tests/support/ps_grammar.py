"""Static checks for the PowerShell that codesign.windows sends to Windows hosts.

Many targets run only PowerShell 2.0 (Windows 7 / Server 2008 R2) or 3.0/4.0, and there is no
PowerShell on the controller, so scripts are parsed with the tree-sitter PowerShell grammar instead of
being run.  check_powershell() reports:

* ``syntax``: ERROR and MISSING nodes of the grammar, plus the few things PowerShell rejects although
  the grammar accepts them (``<`` redirection, merging into a stream other than 1, text after a
  here-string header);
* one rule per construct newer than PowerShell 2.0 (see RULES), read from the syntax tree (node
  types, command names, parameters, operator tokens, member names), so that comments and string
  contents never trigger them;
* ``non_ascii``: console code pages differ on non-English hosts, so scripts must be pure ASCII.

The grammar rejects a few forms of valid PowerShell 2.0.  Each has a fix, explained with an example
where it is defined (the ``_fix_*`` functions and _parse_tolerant).  A fix rewrites the text next to
an error the grammar reported into an equivalent form that it accepts, keeping every byte offset (the
braces around a script of named blocks shift all of them by one, which is mapped back), so findings
point into the original script and whatever PowerShell would reject stays rejected.  Reported as
syntax errors although newer PowerShell accepts them: .NET arity in type literals (``[List`1[string]]``)
and bracketed generic arguments (``[Func[[Object],[Char]]]``); ``[System.Collections.Generic.List[string]]``
is the form PowerShell 2.0 documents.

Code behind a run-time version check may opt out of version rules (never of ``syntax`` or
``non_ascii``) with a comment on the same line::

    if ($PSVersionTable.PSVersion.Major -ge 3) { $j = $o | ConvertTo-Json }  # ps2-allow: json_cmdlet

Command line: ``python tests/support/ps_grammar.py [FILE...]`` prints the findings (every ``*.ps1``
under plugins/ and roles/ when no file is named) and exits 1 if there is any.
"""

from __future__ import annotations

import base64
import bisect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser, Tree

REPO_ROOT = Path(__file__).resolve().parents[2]
LANGUAGE = Language(tree_sitter_powershell.language())
_PARSER = Parser(LANGUAGE)

# cmd.exe refuses command lines longer than this many characters.
CMD_EXE_MAX_COMMAND_LINE = 8191
ENCODED_COMMAND_PREFIX = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "


@dataclass(frozen=True)
class Finding:
    line: int
    column: int
    rule: str
    message: str
    text: str

    def format(self, name: str) -> str:
        return f"{name}:{self.line}:{self.column}: {self.rule}: {self.message} [{self.text}]"


# rule -> (first PowerShell version that has the construct, what the rule is about); where a rule
# covers several constructs, the lowest version, and each message names the construct's own.
RULES: dict[str, tuple[str, str]] = {
    "syntax": ("", "syntax error"),
    "non_ascii": ("", "character outside ASCII"),
    "ordered": ("3.0", "[ordered] dictionaries"),
    "pscustomobject": ("3.0", "[pscustomobject]"),
    "new_method": ("5.0", "::new() constructor calls"),
    "in_operator": ("3.0", "-in / -notin"),
    "shift_operator": ("3.0", "-shl / -shr"),
    "foreach_where_method": ("4.0", ".ForEach() / .Where() collection methods"),
    "psitem": ("3.0", "$PSItem"),
    "using_scope": ("3.0", "the $using: scope"),
    "class_enum": ("5.0", "class / enum definitions"),
    "using_statement": ("5.0", "using namespace / using module"),
    "workflow": ("3.0", "workflows"),
    "requires": ("3.0", "#requires needing a newer PowerShell"),
    "json_cmdlet": ("3.0", "ConvertTo-Json / ConvertFrom-Json"),
    "web_cmdlet": ("3.0", "Invoke-RestMethod / Invoke-WebRequest"),
    "cim_cmdlet": ("3.0", "CIM cmdlets"),
    "get_itempropertyvalue": ("5.0", "Get-ItemPropertyValue"),
    "register_argumentcompleter": ("5.0", "Register-ArgumentCompleter"),
    "newer_cmdlet": ("3.0", "other cmdlets newer than PowerShell 2.0"),
    "windows8_module": ("3.0", "cmdlets of modules first shipped with Windows 8 / Server 2012"),
    "erroraction_ignore": ("3.0", "the Ignore action preference"),
    "nonewline": ("5.0", "-NoNewline on Out-File / Set-Content / Add-Content / Out-String"),
    "get_content_raw": ("3.0", "Get-Content -Raw"),
    "newer_parameter": ("3.0", "cmdlet parameters newer than PowerShell 2.0"),
    "newer_common_parameter": ("4.0", "-PipelineVariable / -InformationAction / -InformationVariable"),
    "simplified_syntax": ("3.0", "Where-Object / ForEach-Object simplified syntax"),
    "foreach_parallel": ("7.0", "ForEach-Object -Parallel"),
    "attribute_shorthand": ("3.0", "attribute arguments without a value, e.g. [Parameter(Mandatory)]"),
    "stream_redirection": ("3.0", "redirecting streams 3-6 and *"),
    "stop_parsing": ("3.0", "the --% stop-parsing token"),
    "pipeline_chain": ("7.0", "pipeline chains && / ||"),
    "ternary": ("7.0", "the ternary operator ? :"),
    "null_coalescing": ("7.0", "?? / ??="),
    "null_conditional": ("7.0", "?. / ?[]"),
}
_UNSUPPRESSIBLE = {"syntax", "non_ascii"}


def _needs(what: str, version: str) -> str:
    return f"{what} needs PowerShell {version}; PowerShell 2.0 does not have it"


# ----------------------------------------------------------------------------------------------- source


class _Source:
    """The original text, with byte offsets mapped to 1-based line and character columns."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8", "surrogatepass")
        self.line_starts = [0] + [m.end() for m in re.finditer(rb"\n", self.data)]

    def clamp(self, offset: int) -> int:
        return max(0, min(offset, len(self.data)))

    def position(self, offset: int) -> tuple[int, int]:
        offset = self.clamp(offset)
        index = bisect.bisect_right(self.line_starts, offset) - 1
        start = self.line_starts[index]
        return index + 1, len(self.data[start:offset].decode("utf-8", "ignore")) + 1

    def snippet(self, start: int, end: Optional[int] = None, limit: int = 60) -> str:
        """Text from start up to end (or the end of the line), on one line and at most limit characters."""
        start = self.clamp(start)
        line_end = self.data.find(b"\n", start)
        stop = len(self.data) if line_end < 0 else line_end
        if end is not None:
            stop = min(stop, self.clamp(end))
        text = self.data[start:stop].decode("utf-8", "replace").strip()
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def line_snippet(self, offset: int, limit: int = 60) -> str:
        offset = self.clamp(offset)
        return self.snippet(self.data.rfind(b"\n", 0, offset) + 1, None, limit)


@dataclass
class _Parsed:
    tree: Tree
    data: bytes  # the text the tree was parsed from: the original, possibly rewritten by the fixes
    shift: int  # bytes put in front of the original text

    @property
    def root(self) -> Node:
        return self.tree.root_node


def _parse(data: bytes) -> Tree:
    return _PARSER.parse(data)


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _error_sites(root: Node) -> list[tuple[str, Node]]:
    """Outermost ERROR nodes, MISSING nodes, and nodes whose error sits in a token the tree does not expose.

    The last kind comes from input like ``if () { }``: the grammar inserts an empty command_name whose
    missing token is hidden, so only the named node's has_error tells.
    """
    sites: list[tuple[str, Node]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error:
            sites.append(("error", node))
        elif node.is_missing:
            sites.append(("missing", node))
        elif node.has_error:
            broken = [child for child in node.children if child.has_error]
            if broken:
                stack.extend(reversed(broken))
            else:
                sites.append(("incomplete", node))
    return sites


def _error_weight(root: Node) -> int:
    """How much of the text the errors cover: a smaller weight is a better parse."""
    return sum(max(1, node.end_byte - node.start_byte) for _kind, node in _error_sites(root))


def _error_nodes(root: Node) -> list[Node]:
    return [node for kind, node in _error_sites(root) if kind == "error"]


_TEXT_NODES = {
    "comment",
    "verbatim_string_characters",
    "verbatim_here_string_characters",
    "expandable_string_literal",
    "expandable_here_string_literal",
}
_CODE_IN_TEXT = {"sub_expression", "variable"}


def _in_code(root: Node, offset: int) -> bool:
    """Whether the byte at offset is code rather than comment or string text ($x and $(...) in strings are code)."""
    node = root.descendant_for_byte_range(offset, offset + 1)
    while node is not None:
        if node.type in _CODE_IN_TEXT:
            return True
        if node.type in _TEXT_NODES:
            return False
        node = node.parent
    return True


# ------------------------------------------------------------------------------- grammar workarounds
#
# Each fix yields (offset, replacement) pairs of equal length inside or next to an error site.


Edit = tuple[int, bytes]
# Error nodes often start inside the construct the grammar choked on ("KB" of "64KB"): patterns are
# searched this many bytes around each error node and kept if they overlap it.
_CONTEXT = 32


def _matches_near_errors(
    root: Node, data: bytes, pattern: re.Pattern[bytes]
) -> Iterator[tuple[int, int, re.Match[bytes]]]:
    for error in _error_nodes(root):
        start, end = error.start_byte, max(error.end_byte, error.start_byte + 1)
        for match in pattern.finditer(data, max(0, start - _CONTEXT), min(len(data), end + _CONTEXT)):
            if match.end() > start and match.start() < end:
                yield match.start(), match.end(), match


def _blank_after(data: bytes, offset: int) -> Iterator[Edit]:
    if data[offset : offset + 1] in (b" ", b"\t"):
        yield offset, b";"


_NUMBER = re.compile(
    rb"(?<![\w$@.])(?:0x[0-9a-f]+l?|(?:\d+(?:\.\d+)?|\.\d+)(?:e[+-]?\d+)?[ld]?)(?:[kmgtp]b)?(?![\w.])",
    re.IGNORECASE,
)


def _fix_number_case(root: Node, data: bytes) -> Iterator[Edit]:
    """``$kb = $size / 1KB`` (also ``5L``, ``0X1F``, ``1E3``): the grammar knows number suffixes only in
    lower case, PowerShell in any case, so lower-case the literal."""
    for start, _end, match in _matches_near_errors(root, data, _NUMBER):
        token = match.group()
        if token != token.lower() and _in_code(root, start):
            yield start, token.lower()


def _fix_switch_clause_separator(root: Node, data: bytes) -> Iterator[Edit]:
    """``switch ($x) { 'a' { 1 } default { 2 } }`` and ``{ 1 { 'one' } 2 { 'two' } default { 3 } }``:
    PowerShell needs nothing between clauses on one line, the grammar wants a terminator after a
    clause; ``;`` is a valid clause terminator."""
    for kind, site in _error_sites(root):
        if kind == "incomplete" and site.type == "switch_clause":
            block = next((child for child in site.children if child.type == "statement_block"), None)
        elif (
            kind == "error"
            and site.parent is not None
            and site.parent.type in ("switch_clause", "switch_clauses", "switch_body")
        ):
            block = site.children[0] if site.child_count else None
        else:
            continue
        if block is not None and block.type == "statement_block":
            yield from _blank_after(data, block.end_byte)


def _fix_param_block_terminator(root: Node, data: bytes) -> Iterator[Edit]:
    """``function f { param($a) process { $a } }`` and ``{ param($a) $a }``: in a script block the
    grammar wants a terminator between the param block and the body, PowerShell does not; ``;`` is
    valid there."""
    for error in _error_nodes(root):
        if error.child_count and error.children[0].type == "param_block":
            yield from _blank_after(data, error.children[0].end_byte)


def _fix_loop_label(root: Node, data: bytes) -> Iterator[Edit]:
    """``break outer`` / ``continue outer``: the grammar takes a label only as ``break :outer``
    (``break:outer`` would be read as a command name).  The label's first letter becomes the colon:
    ``break :uter`` has the same length and still ends the statement where PowerShell ends it."""
    for error in _error_nodes(root):
        children = error.children
        for statement, label in zip(children, children[1:]):
            if statement.type not in ("flow_control_statement", "break", "continue") or label.type != "simple_name":
                continue
            if (statement.text or b"").strip().lower() not in (b"break", b"continue"):
                continue
            start = statement.end_byte
            while start < label.end_byte and data[start : start + 1] in (b" ", b"\t"):
                start += 1
            if start > statement.end_byte and label.end_byte - start >= 2:
                yield start, b":"


def _is_bareword(node: Optional[Node]) -> bool:
    if node is None:
        return False
    return node.type == "generic_token" or (
        node.type == "simple_name" and node.parent is not None and node.parent.is_error
    )


_NESTING = {
    "parenthesized_expression",
    "sub_expression",
    "array_expression",
    "argument_list",
    "hash_literal_expression",
    "script_block_expression",
    "statement_block",
    "expandable_string_literal",
    "expandable_here_string_literal",
}


def _follows_command(error: Node, comma: Node) -> bool:
    """Whether, inside an ERROR node, the comma comes after a command on the same line, with nothing
    but list elements in between."""
    data = error.text or b""
    before = [child for child in error.children if child.end_byte <= comma.start_byte]
    for child in reversed(before):
        if not (child.is_named or child.type == ","):
            return False
        if child.type == "command_name" or any(
            n.type == "command" and n.end_byte == child.end_byte for n in _walk(child)
        ):
            gap = data[child.end_byte - error.start_byte : comma.start_byte - error.start_byte]
            return b"\n" not in gap and b";" not in gap
    return False


def _in_command_arguments(comma: Node) -> bool:
    """Whether a comma separates arguments of a command, which PowerShell reads in argument mode."""
    node = comma.parent
    while node is not None:
        if node.type == "command_elements":
            return True
        if node.is_error and _follows_command(node, comma):
            return True
        if node.type in _NESTING:
            return False
        node = node.parent
    return False


def _fix_bareword_list(root: Node, data: bytes) -> Iterator[Edit]:
    """``Select-Object Name, Id`` and ``Get-Thing -Names a, 'b'``: the grammar cannot put a bareword
    into a comma list of command arguments.  The comma becomes a blank, which keeps the elements as
    arguments of the same command.  Only a comma between the arguments of a command (not in an
    expression, where PowerShell rejects barewords too), with an element on both sides on the same line
    and a bareword on one of them, is changed, so ``$x = 1, b``, ``Get-Thing a,`` and ``Get-Thing a,,b``
    stay errors."""
    sites = _error_sites(root)
    spans = [(node.start_byte - _CONTEXT, node.end_byte + _CONTEXT) for _kind, node in sites]
    commas = [
        node.start_byte
        for node in _walk(root)
        if node.type == ","
        and any(low <= node.start_byte <= high for low, high in spans)
        and _in_command_arguments(node)
    ]
    # "Name,Id" without a blank: the grammar reads ",Id" as one more argument after a missing separator.
    for kind, node in sites:
        following = node.parent.next_sibling if kind == "missing" and node.parent is not None else None
        if node.parent is not None and node.parent.type == "command_argument_sep" and following is not None:
            commas.append(following.start_byte)
    for offset in commas:
        before = offset - 1
        while before >= 0 and data[before : before + 1] in (b" ", b"\t"):
            before -= 1
        after = offset + 1
        while after < len(data) and data[after : after + 1] in (b" ", b"\t"):
            after += 1
        if before < 0 or after >= len(data) or data[offset : offset + 1] != b",":
            continue
        if data[before : before + 1] in b",(@\r\n" or data[after : after + 1] in b",)};|&#\r\n":
            continue
        words = (root.descendant_for_byte_range(before, before + 1), root.descendant_for_byte_range(after, after + 1))
        if any(_is_bareword(node) for node in words):
            yield offset, b" "


_NESTED_TYPE = re.compile(rb"(?<![\w\])}$])\[[A-Za-z_][\w.]*\+[A-Za-z_][\w.+]*\]")


def _fix_nested_type_name(root: Node, data: bytes) -> Iterator[Edit]:
    """``[Environment+SpecialFolder]::Desktop``: the grammar has no '+' for nested types; with '.'
    instead the literal is still a type name of the same length."""
    for start, end, match in _matches_near_errors(root, data, _NESTED_TYPE):
        if _in_code(root, start):
            yield start, match.group().replace(b"+", b".")


_EMPTY_HERE_STRING = re.compile(rb"@([\"'])(\r?\n)\1@")


def _fix_empty_here_string(root: Node, data: bytes) -> Iterator[Edit]:
    """``$s = @"`` + newline + ``"@``: the grammar wants at least one line in a here-string.  An empty
    ``$(`` + newline + `` )`` takes its place: an expression of the same length over the same lines.
    A here-string header followed by blanks is left alone, since PowerShell rejects it."""
    for start, _end, match in _matches_near_errors(root, data, _EMPTY_HERE_STRING):
        if _in_code(root, start):
            yield start, b"$(" + match.group(2) + b" )"


_LOCAL_FIXES: tuple[Callable[[Node, bytes], Iterable[Edit]], ...] = (
    _fix_number_case,
    _fix_switch_clause_separator,
    _fix_param_block_terminator,
    _fix_loop_label,
    _fix_bareword_list,
    _fix_empty_here_string,
    _fix_nested_type_name,
)
_MAX_FIX_ROUNDS = 8


def _apply_local_fixes(parsed: _Parsed) -> _Parsed:
    for _round in range(_MAX_FIX_ROUNDS):
        if not parsed.root.has_error:
            break
        edits: dict[int, bytes] = {}
        for fix in _LOCAL_FIXES:
            for offset, replacement in fix(parsed.root, parsed.data):
                edits.setdefault(offset, replacement)
        buffer = bytearray(parsed.data)
        for offset, replacement in edits.items():
            buffer[offset : offset + len(replacement)] = replacement
        data = bytes(buffer)
        if data == parsed.data:
            break
        candidate = _Parsed(_parse(data), data, parsed.shift)
        if _error_weight(candidate.root) > _error_weight(parsed.root):
            break
        parsed = candidate
    return parsed


def _only_comments(parsed: _Parsed) -> bool:
    covered = bytearray(parsed.data)
    for node in _walk(parsed.root):
        if node.type == "comment":
            covered[node.start_byte : node.end_byte] = b" " * (node.end_byte - node.start_byte)
    return not bytes(covered).strip()


def _wraps_whole_text(parsed: _Parsed) -> bool:
    """Whether the braces put around the script still enclose all of it, so that no stray '}' in the
    script could pair up with them."""
    node: Optional[Node] = parsed.root.descendant_for_byte_range(0, 1)
    while node is not None and node.type != "script_block_expression":
        node = node.parent
    return node is not None and node.start_byte == 0 and node.end_byte == len(parsed.data)


_NAMED_BLOCK = re.compile(rb"(?im)^[ \t]*(?:begin|process|end|dynamicparam)\s*\{")


def _parse_tolerant(data: bytes) -> _Parsed:
    """Parse, applying the local fixes, then two fixes that concern the whole script.

    * An empty or comment-only script is valid PowerShell, but the grammar wants a statement: an empty
      statement is appended (``# nothing yet`` -> ``# nothing yet`` newline ``;``).
    * A script may consist of begin/process/end blocks like a script block body, which the grammar
      accepts only inside braces (``param($a)`` newline ``process { $_ }``): the script is parsed as
      ``{`` + script + newline + ``}`` and the result kept only if its errors cover less text.
    """
    parsed = _apply_local_fixes(_Parsed(_parse(data), data, 0))
    if parsed.root.has_error and _only_comments(parsed):
        padded = parsed.data + b"\n;"
        candidate = _Parsed(_parse(padded), padded, parsed.shift)
        if not candidate.root.has_error:
            return candidate
    if parsed.root.has_error and any(
        _in_code(parsed.root, match.start() + len(match.group()) - len(match.group().lstrip()))
        for match in _NAMED_BLOCK.finditer(parsed.data)
    ):
        wrapped = b"{" + parsed.data + b"\n}"
        candidate = _apply_local_fixes(_Parsed(_parse(wrapped), wrapped, parsed.shift + 1))
        if _wraps_whole_text(candidate) and _error_weight(candidate.root) < _error_weight(parsed.root):
            return candidate
    return parsed


# --------------------------------------------------------------------------------------------- checks


class _Checker:
    def __init__(self, source: _Source, parsed: _Parsed) -> None:
        self.source = source
        self.parsed = parsed
        self.findings: list[Finding] = []

    def original(self, offset: int) -> int:
        return self.source.clamp(offset - self.parsed.shift)

    def add(self, rule: str, offset: int, message: str, text: Optional[str] = None, end: Optional[int] = None) -> None:
        start = self.original(offset)
        line, column = self.source.position(start)
        if text is None:
            text = self.source.snippet(start, None if end is None else self.original(end))
        self.findings.append(Finding(line, column, rule, message, text))

    def add_node(self, rule: str, node: Node, message: str) -> None:
        self.add(rule, node.start_byte, message, end=node.end_byte)

    def code(self, offset: int) -> bool:
        return _in_code(self.parsed.root, offset)


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


# ------------------------------------------------------------------------------------ syntax findings

_CLOSERS = {"}": ("{", "@{", "${"), ")": ("(", "$(", "@("), "]": ("[",)}


def _opener(missing: Node) -> Optional[Node]:
    """The bracket that a MISSING closing bracket should have closed."""
    sibling = missing.prev_sibling
    while sibling is not None:
        if sibling.type in _CLOSERS.get(missing.type, ()):
            return sibling
        sibling = sibling.prev_sibling
    return None


def _check_syntax(checker: _Checker) -> None:
    source = checker.source
    for kind, node in _error_sites(checker.parsed.root):
        start = checker.original(node.start_byte)
        if kind == "error":
            unexpected = source.snippet(start, checker.original(node.end_byte), 30)
            checker.add_node("syntax", node, f"syntax error: unexpected '{unexpected}'")
            continue
        opener = _opener(node) if kind == "missing" else None
        if opener is not None:
            # An unclosed bracket is reported where it opens, as PowerShell does.
            end_line = source.position(start)[0]
            message = f"syntax error: '{_text(opener)}' is never closed (missing '{node.type}' by line {end_line})"
            checker.add(
                "syntax", opener.start_byte, message, text=source.line_snippet(checker.original(opener.start_byte))
            )
            continue
        if kind == "missing":
            message = f"syntax error: missing '{node.type}'"
        elif node.start_byte == node.end_byte:
            message = f"syntax error: a command or expression is expected here (empty {node.type.replace('_', ' ')})"
        else:
            message = f"syntax error: incomplete {node.type.replace('_', ' ')}"
        checker.add("syntax", node.start_byte, message, text=source.line_snippet(start))


# --------------------------------------------------------------------------------------- tree checks

_MEMBER_OPERATORS = (".", "::")


def _member(node: Node) -> tuple[Optional[str], Optional[Node]]:
    operator = next((child.type for child in node.children if child.type in _MEMBER_OPERATORS), None)
    name = next((child for child in node.children if child.type == "member_name"), None)
    return operator, name


def _check_member(checker: _Checker, node: Node) -> None:
    operator, name_node = _member(node)
    if name_node is None:
        return
    name = _text(name_node).strip().lower()
    if node.type == "invokation_expression":
        if operator == "::" and name == "new":
            checker.add_node(
                "new_method", name_node, _needs("Calling ::new() to construct an object", "5.0") + "; use New-Object"
            )
        elif operator == "." and name in ("foreach", "where"):
            checker.add_node(
                "foreach_where_method", name_node, _needs(f"The .{_text(name_node).strip()}() collection method", "4.0")
            )
    if operator == "::" and name == "ignore":
        type_node = next((child for child in node.children if child.type == "type_literal"), None)
        if type_node is not None and _text(type_node).lower().rstrip("]").endswith("actionpreference"):
            checker.add_node(
                "erroraction_ignore", node, _needs("The Ignore action preference", "3.0") + "; use SilentlyContinue"
            )


def _check_foreach_invocation(checker: _Checker, node: Node) -> None:
    checker.add_node("foreach_where_method", node, _needs("The .ForEach{} collection method", "4.0"))


def _check_type_spec(checker: _Checker, node: Node) -> None:
    name = re.sub(r"\s+", "", _text(node)).lower()
    if name == "ordered":
        checker.add_node(
            "ordered", node, _needs("[ordered]", "3.0") + "; use System.Collections.Specialized.OrderedDictionary"
        )
    elif name == "pscustomobject":
        checker.add_node(
            "pscustomobject", node, _needs("[pscustomobject]", "3.0") + "; use New-Object PSObject -Property"
        )
    elif name == "system.management.automation.pscustomobject":
        cast = node.parent.parent if node.parent is not None else None
        operand = cast.children[-1] if cast is not None and cast.type == "cast_expression" else None
        if operand is not None and any(
            n.type == "hash_literal_expression" for n in _walk(operand) if n.start_byte == operand.start_byte
        ):
            checker.add_node("pscustomobject", node, _needs("Casting a hash table to PSCustomObject", "3.0"))


_COMPARISON_RULES = {
    "-in": ("in_operator", "3.0"),
    "-notin": ("in_operator", "3.0"),
    "-shl": ("shift_operator", "3.0"),
    "-shr": ("shift_operator", "3.0"),
}


def _check_comparison_operator(checker: _Checker, node: Node) -> None:
    operator = _text(node).strip().lower()
    if operator in _COMPARISON_RULES:
        rule, version = _COMPARISON_RULES[operator]
        checker.add_node(rule, node, _needs(f"The {operator} operator", version))


def _variable_name(node: Node) -> str:
    text = _text(node).strip()
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1].lower()
    return text.lstrip("$@").lower()


def _check_variable(checker: _Checker, node: Node) -> None:
    name = _variable_name(node)
    if name == "psitem":
        checker.add_node("psitem", node, _needs("$PSItem", "3.0") + "; use $_")
    elif name.startswith("using:"):
        checker.add_node(
            "using_scope", node, _needs("The $using: scope modifier", "3.0") + "; pass values with -ArgumentList"
        )


def _check_class(checker: _Checker, node: Node) -> None:
    what = "class" if node.type == "class_statement" else "enum"
    checker.add_node("class_enum", node, _needs(f"A PowerShell {what} definition", "5.0") + "; use Add-Type")


def _check_function(checker: _Checker, node: Node) -> None:
    if node.child_count and node.children[0].type == "workflow":
        checker.add_node("workflow", node, _needs("A workflow", "3.0"))


def _check_workflow_statement(checker: _Checker, node: Node) -> None:
    keyword = _text(node.children[0]).strip() if node.child_count else node.type
    checker.add_node("workflow", node, _needs(f"The workflow keyword '{keyword}'", "3.0"))


def _check_workflow_parameter(checker: _Checker, node: Node) -> None:
    if _text(node).strip().lower() == "-parallel":
        checker.add_node("workflow", node, _needs(f"'{node.parent.type.split('_')[0]} -parallel' (workflows)", "3.0"))


def _check_pipeline_chain(checker: _Checker, node: Node) -> None:
    operator = node.children[0] if node.child_count else node
    checker.add_node(
        "pipeline_chain",
        operator,
        _needs(f"The pipeline chain operator {_text(operator).strip()}", "7.0") + "; use if ($?)",
    )


def _check_file_redirection(checker: _Checker, node: Node) -> None:
    operator = _text(node).strip()
    if operator == "<":
        checker.add_node("syntax", node, "syntax error: the '<' operator is reserved for future use in PowerShell")
    elif operator[0] in "345*":
        checker.add_node(
            "stream_redirection", node, _needs(f"Redirecting with {operator}", "3.0") + "; only > >> 2> 2>> 2>&1 exist"
        )
    elif operator[0] == "6":
        checker.add_node(
            "stream_redirection", node, _needs(f"Redirecting the information stream with {operator}", "5.0")
        )


def _check_merging_redirection(checker: _Checker, node: Node) -> None:
    operator = _text(node).strip()
    if not operator.endswith("&1"):
        checker.add_node(
            "syntax",
            node,
            f"syntax error: '{operator}' is reserved; PowerShell merges streams only into the success stream (n>&1)",
        )
    elif operator[0] in "345*":
        checker.add_node(
            "stream_redirection", node, _needs(f"Redirecting with {operator}", "3.0") + "; only 2>&1 exists"
        )
    elif operator[0] == "6":
        checker.add_node(
            "stream_redirection", node, _needs(f"Redirecting the information stream with {operator}", "5.0")
        )


def _check_stop_parsing(checker: _Checker, node: Node) -> None:
    checker.add_node("stop_parsing", node, _needs("The --% stop-parsing token", "3.0"))


def _check_attribute_argument(checker: _Checker, node: Node) -> None:
    named = node.named_children
    if len(named) == 1 and named[0].type == "simple_name" and not any(child.type == "=" for child in node.children):
        name = _text(named[0]).strip()
        checker.add_node(
            "attribute_shorthand",
            node,
            _needs(f"An attribute argument without a value ({name})", "3.0") + f"; write {name} = $true",
        )


_HERE_STRING_HEADER = re.compile(rb"@[\"'][ \t]+\r?\n")


def _check_here_string(checker: _Checker, node: Node) -> None:
    if _HERE_STRING_HEADER.match(node.text or b""):
        checker.add_node(
            "syntax", node, "syntax error: no characters are allowed after a here-string header (@\" or @')"
        )


_REQUIRES = re.compile(r"#requires\s", re.IGNORECASE)
_REQUIRES_PARAMETER = re.compile(r"-(\w+)(?:\s+([\w.]+))?")


def _check_comment(checker: _Checker, node: Node) -> None:
    text = _text(node)
    if not _REQUIRES.match(text):
        return
    for match in _REQUIRES_PARAMETER.finditer(text):
        parameter, value = match.group(1).lower(), match.group(2) or ""
        if len(parameter) >= 2 and "version".startswith(parameter):
            version = re.match(r"(\d+)(?:\.(\d+))?", value)
            if version and (int(version.group(1)), int(version.group(2) or 0)) > (2, 0):
                needed = f"{int(version.group(1))}.{int(version.group(2) or 0)}"
                message = (
                    f"#requires -Version {value} needs PowerShell {needed}; PowerShell 2.0 refuses to run the script"
                )
                checker.add("requires", node.start_byte + match.start(), message, end=node.end_byte)
        elif len(parameter) >= 2 and "modules".startswith(parameter):
            checker.add(
                "requires", node.start_byte + match.start(), _needs("#requires -Modules", "3.0"), end=node.end_byte
            )
        elif len(parameter) >= 2 and "runasadministrator".startswith(parameter):
            checker.add(
                "requires",
                node.start_byte + match.start(),
                _needs("#requires -RunAsAdministrator", "4.0"),
                end=node.end_byte,
            )
        elif len(parameter) >= 3 and "psedition".startswith(parameter):
            checker.add(
                "requires", node.start_byte + match.start(), _needs("#requires -PSEdition", "5.1"), end=node.end_byte
            )


# ---------------------------------------------------------------------------------------- commands

_ALIASES = {
    "gc": "get-content",
    "cat": "get-content",
    "type": "get-content",
    "gci": "get-childitem",
    "ls": "get-childitem",
    "dir": "get-childitem",
    "%": "foreach-object",
    "foreach": "foreach-object",
    "?": "where-object",
    "where": "where-object",
    "sc": "set-content",
    "ac": "add-content",
    "irm": "invoke-restmethod",
    "iwr": "invoke-webrequest",
    "gpv": "get-itempropertyvalue",
    "gcim": "get-ciminstance",
    "gcls": "get-cimclass",
    "gcai": "get-cimassociatedinstance",
    "gcms": "get-cimsession",
    "icim": "invoke-cimmethod",
    "ncim": "new-ciminstance",
    "ncms": "new-cimsession",
    "ncso": "new-cimsessionoption",
    "rcie": "register-cimindicationevent",
    "rcim": "remove-ciminstance",
    "rcms": "remove-cimsession",
    "scim": "set-ciminstance",
}

_CIM_CMDLETS = (
    "get-ciminstance get-cimclass get-cimassociatedinstance get-cimsession invoke-cimmethod new-ciminstance "
    "new-cimsession new-cimsessionoption register-cimindicationevent remove-ciminstance remove-cimsession "
    "set-ciminstance export-binarymilog import-binarymilog"
).split()

_NEWER_CMDLETS = {
    "3.0": "unblock-file show-command update-help save-help rename-computer resume-job suspend-job "
    "new-pssessionconfigurationfile new-pstransportoption register-scheduledjob get-scheduledjob new-jobtrigger "
    "get-controlpanelitem show-controlpanelitem",
    "4.0": "get-filehash start-dscconfiguration get-dscconfiguration test-dscconfiguration",
    "5.0": "compress-archive expand-archive new-temporaryfile new-guid format-hex get-clipboard set-clipboard "
    "clear-recyclebin convertfrom-string convert-string write-information protect-cmsmessage unprotect-cmsmessage "
    "get-cmsmessage install-module find-module install-packageprovider get-packageprovider register-psrepository "
    "enter-pshostprocess get-pshostprocessinfo wait-debugger",
    "5.1": "get-computerinfo get-timezone set-timezone get-localuser new-localuser set-localuser remove-localuser "
    "rename-localuser enable-localuser disable-localuser get-localgroup new-localgroup add-localgroupmember "
    "get-localgroupmember remove-localgroupmember",
    "6.0": "get-uptime remove-service remove-alias",
    "7.0": "get-error",
}

# Modules that came with Windows 8 / Server 2012; a WMF upgrade does not bring them to Windows 7 / 2008 R2.
_WINDOWS8_MODULES = {
    "PKI": "import-pfxcertificate export-pfxcertificate get-pfxdata import-certificate export-certificate "
    "new-selfsignedcertificate get-certificate",
    "ScheduledTasks": "get-scheduledtask register-scheduledtask unregister-scheduledtask set-scheduledtask "
    "start-scheduledtask stop-scheduledtask enable-scheduledtask disable-scheduledtask get-scheduledtaskinfo "
    "new-scheduledtaskaction new-scheduledtasktrigger new-scheduledtaskprincipal new-scheduledtasksettingsset",
    "NetSecurity": "get-netfirewallrule new-netfirewallrule set-netfirewallrule remove-netfirewallrule "
    "enable-netfirewallrule disable-netfirewallrule",
    "NetAdapter/NetTCPIP/DnsClient": "get-netadapter get-netipaddress new-netipaddress get-netipconfiguration "
    "get-netroute get-nettcpconnection test-netconnection resolve-dnsname get-dnsclientserveraddress "
    "set-dnsclientserveraddress",
    "Storage": "get-disk get-volume get-partition initialize-disk new-partition format-volume",
    "SmbShare": "get-smbshare new-smbshare remove-smbshare get-smbshareaccess grant-smbshareaccess",
    "ServerManager (2012)": "install-windowsfeature uninstall-windowsfeature",
    "Dism": "get-windowsoptionalfeature enable-windowsoptionalfeature disable-windowsoptionalfeature",
}

# canonical command -> (rule, version, hint)
_COMMAND_RULES: dict[str, tuple[str, str, str]] = {
    "convertto-json": ("json_cmdlet", "3.0", "build JSON by hand or with System.Web.Script.Serialization"),
    "convertfrom-json": ("json_cmdlet", "3.0", "parse with System.Web.Script.Serialization.JavaScriptSerializer"),
    "invoke-restmethod": ("web_cmdlet", "3.0", "use System.Net.WebClient"),
    "invoke-webrequest": ("web_cmdlet", "3.0", "use System.Net.WebClient"),
    "get-itempropertyvalue": ("get_itempropertyvalue", "5.0", "use (Get-ItemProperty ...).Name"),
    "register-argumentcompleter": ("register_argumentcompleter", "5.0", ""),
}
_COMMAND_RULES.update({name: ("cim_cmdlet", "3.0", "use Get-WmiObject / Invoke-WmiMethod") for name in _CIM_CMDLETS})
for _version, _names in _NEWER_CMDLETS.items():
    _COMMAND_RULES.update({name: ("newer_cmdlet", _version, "") for name in _names.split()})
for _module, _names in _WINDOWS8_MODULES.items():
    _COMMAND_RULES.update(
        {name: ("windows8_module", "3.0", f"{_module} module, Windows 8 / Server 2012") for name in _names.split()}
    )


@dataclass(frozen=True)
class _ParameterRule:
    name: str  # full parameter name, lower case
    shortest: int  # shortest prefix PowerShell would accept
    aliases: tuple[str, ...]
    rule: str
    version: str

    def matches(self, parameter: str) -> bool:
        return parameter in self.aliases or (len(parameter) >= self.shortest and self.name.startswith(parameter))


_CONTENT_WRITERS = ("out-file", "set-content", "add-content")
_PARAMETER_RULES: dict[str, tuple[_ParameterRule, ...]] = {
    "get-content": (
        _ParameterRule("raw", 2, (), "get_content_raw", "3.0"),
        _ParameterRule("tail", 2, ("last",), "newer_parameter", "3.0"),
        _ParameterRule("stream", 2, (), "newer_parameter", "3.0"),
    ),
    "get-childitem": (
        _ParameterRule("file", 4, ("af",), "newer_parameter", "3.0"),
        _ParameterRule("directory", 2, ("ad",), "newer_parameter", "3.0"),
        _ParameterRule("hidden", 2, ("ah",), "newer_parameter", "3.0"),
        _ParameterRule("readonly", 3, ("ar",), "newer_parameter", "3.0"),
        _ParameterRule("system", 2, ("as",), "newer_parameter", "3.0"),
        _ParameterRule("attributes", 2, (), "newer_parameter", "3.0"),
        _ParameterRule("depth", 2, (), "newer_parameter", "5.0"),
    ),
    "write-output": (_ParameterRule("noenumerate", 3, (), "newer_parameter", "4.0"),),
    "out-string": (_ParameterRule("nonewline", 3, (), "nonewline", "6.0"),),
    "foreach-object": (
        _ParameterRule("parallel", 2, (), "foreach_parallel", "7.0"),
        _ParameterRule("throttlelimit", 2, (), "foreach_parallel", "7.0"),
        _ParameterRule("membername", 1, (), "simplified_syntax", "3.0"),
        _ParameterRule("argumentlist", 1, ("args",), "simplified_syntax", "3.0"),
    ),
}
for _writer in _CONTENT_WRITERS:
    _PARAMETER_RULES[_writer] = (_ParameterRule("nonewline", 3, (), "nonewline", "5.0"),)

_NEWER_COMMON_PARAMETERS = (
    _ParameterRule("pipelinevariable", 3, ("pv",), "newer_common_parameter", "4.0"),
    _ParameterRule("informationaction", 12, ("infa",), "newer_common_parameter", "5.0"),
    _ParameterRule("informationvariable", 12, ("iv",), "newer_common_parameter", "5.0"),
)
_ACTION_PARAMETERS = (
    _ParameterRule("erroraction", 6, ("ea",), "erroraction_ignore", "3.0"),
    _ParameterRule("warningaction", 8, ("wa",), "erroraction_ignore", "3.0"),
)
# PowerShell 2.0 common parameters: name -> takes a value
_COMMON_PARAMETERS = {
    "verbose": False,
    "debug": False,
    "whatif": False,
    "confirm": False,
    "usetransaction": False,
    "erroraction": True,
    "warningaction": True,
    "errorvariable": True,
    "warningvariable": True,
    "outvariable": True,
    "outbuffer": True,
}
_COMMON_ALIASES = {
    "vb": "verbose",
    "db": "debug",
    "wi": "whatif",
    "cf": "confirm",
    "usetx": "usetransaction",
    "ea": "erroraction",
    "wa": "warningaction",
    "ev": "errorvariable",
    "wv": "warningvariable",
    "ov": "outvariable",
    "ob": "outbuffer",
}

_VERB_NOUN = re.compile(r"^[a-z]+-[a-z0-9]+$")
_NATIVE_SUFFIXES = (".exe", ".com", ".bat", ".cmd", ".ps1")


def _command_key(node: Node) -> str:
    name = _text(node).strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "'\"":
        name = name[1:-1]
    name = name.lower()
    if "\\" in name and "/" not in name and ":" not in name:
        name = name.rsplit("\\", 1)[1]
    return name


def _parameter_key(node: Node) -> str:
    return _text(node).strip().lstrip("-").rstrip(":").lower()


_WRAPPERS = {
    "array_literal_expression",
    "unary_expression",
    "range_expression",
    "format_expression",
    "multiplicative_expression",
    "additive_expression",
    "comparison_expression",
    "bitwise_expression",
    "logical_expression",
    "pipeline_chain",
    "pipeline",
    "string_literal",
    "expression_with_unary_operator",
}
_WORD_ARGUMENTS = {"generic_token", "verbatim_string_characters", "expandable_string_literal"}


def _core(node: Node) -> Node:
    while node.type in _WRAPPERS and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def _argument_value(node: Node) -> str:
    text = _text(_core(node)).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text.lower()


def _command_items(command: Node) -> list[tuple[str, Node]]:
    elements = command.child_by_field_name("command_elements")
    if elements is None:
        return []
    items = []
    for child in elements.named_children:
        if child.type == "command_parameter":
            items.append(("parameter", child))
        elif child.type not in ("command_argument_sep", "redirection", "comment"):
            items.append(("argument", child))
    return items


def _spelled(node: Node) -> str:
    """A parameter as written, without its dash and a trailing colon."""
    return _text(node).strip().lstrip("-").rstrip(":")


def _check_command(checker: _Checker, node: Node) -> None:
    name_node = node.child_by_field_name("command_name")
    if name_node is None:
        return
    name = _command_key(name_node)
    canonical = _ALIASES.get(name, name)
    written = _text(name_node).strip().strip("'\"")
    items = _command_items(node)

    if name == "using" and items and items[0][0] == "argument":
        kind = _argument_value(items[0][1])
        if kind in ("namespace", "module", "assembly"):
            checker.add_node("using_statement", node, _needs(f"'using {kind}'", "5.0"))
        return

    if canonical in _COMMAND_RULES:
        rule, version, hint = _COMMAND_RULES[canonical]
        if rule == "windows8_module":
            message = (
                f"'{written}' comes from the {hint} (PowerShell {version}); Windows 7 / Server 2008 R2 do not have it"
            )
        else:
            message = _needs(f"'{written}'", version) + (f"; {hint}" if hint else "")
        checker.add_node(rule, name_node, message)

    cmdlet_like = bool(_VERB_NOUN.match(canonical)) or name in _ALIASES
    native = name.endswith(_NATIVE_SUFFIXES)
    for index, (kind, item) in enumerate(items):
        if kind != "parameter":
            continue
        parameter = _parameter_key(item)
        for rule in _PARAMETER_RULES.get(canonical, ()):
            if rule.matches(parameter):
                checker.add_node(rule.rule, item, _needs(f"{written} -{_spelled(item)}", rule.version))
        if cmdlet_like:
            for rule in _NEWER_COMMON_PARAMETERS:
                if rule.matches(parameter):
                    checker.add_node(rule.rule, item, _needs(f"The common parameter -{_spelled(item)}", rule.version))
        following = items[index + 1] if index + 1 < len(items) else None
        if native or following is None or following[0] != "argument":
            continue
        for rule in _ACTION_PARAMETERS:
            if rule.matches(parameter) and _argument_value(following[1]) == "ignore":
                message = _needs(f"-{_spelled(item)} Ignore", rule.version) + "; use SilentlyContinue"
                checker.add_node(rule.rule, following[1], message)

    if canonical in _V2_PARAMETERS:
        _check_simplified_syntax(checker, canonical, written, items)


def _common_parameter(parameter: str) -> Optional[str]:
    if parameter in _COMMON_ALIASES:
        return _COMMON_ALIASES[parameter]
    matches = [name for name in _COMMON_PARAMETERS if len(parameter) >= 2 and name.startswith(parameter)]
    return matches[0] if len(matches) == 1 else None


# PowerShell 2.0 parameters of these cmdlets, beyond the common ones: name -> shortest accepted prefix
_V2_PARAMETERS = {
    "where-object": {"filterscript": 1, "inputobject": 3},
    "foreach-object": {"process": 2, "begin": 1, "end": 1, "inputobject": 1, "remainingscripts": 1},
}


def _check_simplified_syntax(checker: _Checker, canonical: str, written: str, items: list[tuple[str, Node]]) -> None:
    """Where-Object Name -eq 'x' and ForEach-Object Name: PowerShell 2.0 takes only script blocks.

    Reported once per command, at the first element that PowerShell 2.0 cannot bind.
    """
    known = _V2_PARAMETERS[canonical]
    takes_value = False
    positional_seen = False
    for kind, item in items:
        if kind == "parameter":
            parameter = _parameter_key(item)
            own = [
                name for name, shortest in known.items() if len(parameter) >= shortest and name.startswith(parameter)
            ]
            common = _common_parameter(parameter)
            takes_value = bool(own) or bool(common and _COMMON_PARAMETERS[common])
            if not own and common is None and canonical == "where-object":
                checker.add_node(
                    "simplified_syntax",
                    item,
                    _needs(f"{written} -{_spelled(item)} (simplified syntax)", "3.0") + "; use a script block",
                )
                return
            continue
        if takes_value:
            takes_value = False
            continue
        if not positional_seen and _core(item).type in _WORD_ARGUMENTS:
            checker.add_node(
                "simplified_syntax",
                item,
                _needs(f"{written} {_text(item).strip()} (simplified syntax)", "3.0") + "; use a script block",
            )
            return
        positional_seen = True


# ------------------------------------------------------------------ constructs the grammar cannot parse

_ERROR_PATTERNS = (
    (re.compile(rb"\?\?="), "null_coalescing", "The null-coalescing assignment ??=", "7.0"),
    (re.compile(rb"\?\?(?!=)"), "null_coalescing", "The null-coalescing operator ??", "7.0"),
    (re.compile(rb"(?<=[\w})\]])\?[.\[]"), "null_conditional", "The null-conditional operator ?. / ?[]", "7.0"),
    (re.compile(rb"(?<=[^\s|;({,=])[ \t]+\?[ \t]+(?=[^\s{])"), "ternary", "The ternary operator ? :", "7.0"),
    (
        re.compile(rb"(?i)(?<=[\w})\]]\.)(?:foreach|where)\s*[({]"),
        "foreach_where_method",
        "A .ForEach() / .Where() collection method",
        "4.0",
    ),
)


def _check_error_regions(checker: _Checker) -> None:
    """Operators PowerShell 2.0 lacks and the grammar has no token for show up only as ERROR nodes."""
    data = checker.parsed.data
    for pattern, rule, what, version in _ERROR_PATTERNS:
        for start, _end, match in _matches_near_errors(checker.parsed.root, data, pattern):
            offset = start + len(match.group()) - len(match.group().lstrip(b" \t"))
            if not checker.code(offset):
                continue
            if rule == "ternary" and not re.search(
                rb"[ \t]:(?:[ \t\r\n]|$)", data[offset : offset + 200].split(b"\n")[0]
            ):
                continue
            token = match.group().strip().rstrip(b"({").rstrip()
            checker.add(rule, offset, _needs(what, version), end=offset + len(token))


_HANDLERS: dict[str, Callable[[_Checker, Node], None]] = {
    "comment": _check_comment,
    "type_spec": _check_type_spec,
    "invokation_expression": _check_member,
    "member_access": _check_member,
    "invokation_foreach_expression": _check_foreach_invocation,
    "comparison_operator": _check_comparison_operator,
    "variable": _check_variable,
    "class_statement": _check_class,
    "enum_statement": _check_class,
    "function_statement": _check_function,
    "parallel_statement": _check_workflow_statement,
    "sequence_statement": _check_workflow_statement,
    "inlinescript_statement": _check_workflow_statement,
    "foreach_parameter": _check_workflow_parameter,
    "switch_parameter": _check_workflow_parameter,
    "pipeline_chain_tail": _check_pipeline_chain,
    "file_redirection_operator": _check_file_redirection,
    "merging_redirection_operator": _check_merging_redirection,
    "verbatim_command_argument": _check_stop_parsing,
    "stop_parsing": _check_stop_parsing,
    "attribute_argument": _check_attribute_argument,
    "expandable_here_string_literal": _check_here_string,
    "verbatim_here_string_characters": _check_here_string,
    "command": _check_command,
}


# ---------------------------------------------------------------------------------------- non-ASCII

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _check_non_ascii(source: _Source) -> list[Finding]:
    findings = []
    for index, line in enumerate(source.text.split("\n")):
        for match in _NON_ASCII.finditer(line):
            points = ", ".join(f"U+{ord(char):04X}" for char in match.group()[:8])
            if len(match.group()) > 8:
                points += ", ..."
            findings.append(
                Finding(
                    index + 1,
                    match.start() + 1,
                    "non_ascii",
                    f"non-ASCII character(s) {points}; scripts must be pure ASCII (console code pages differ on non-English hosts)",
                    match.group(),
                )
            )
    return findings


# ------------------------------------------------------------------------------------------ entry points

_ALLOW = re.compile(r"#\s*ps2-allow:\s*(\w+(?:\s*,\s*\w+)*)", re.IGNORECASE)


def _allowed_rules(checker: _Checker) -> dict[int, set[str]]:
    allowed: dict[int, set[str]] = {}
    for node in _walk(checker.parsed.root):
        if node.type == "comment":
            match = _ALLOW.search(_text(node))
            if match:
                line = checker.source.position(checker.original(node.start_byte))[0]
                allowed.setdefault(line, set()).update(
                    rule.strip() for rule in match.group(1).split(",") if rule.strip()
                )
    return allowed


def check_powershell(source: str, name: str = "<script>") -> list[Finding]:
    """Every finding in one PowerShell script, sorted by position; name only labels error messages."""
    if not isinstance(source, str):
        raise TypeError(f"{name}: expected the script as str, got {type(source).__name__}")
    text = _Source(source)
    checker = _Checker(text, _parse_tolerant(text.data))
    _check_syntax(checker)
    for node in _walk(checker.parsed.root):
        handler = _HANDLERS.get(node.type)
        if handler is not None:
            handler(checker, node)
    _check_error_regions(checker)
    allowed = _allowed_rules(checker)
    findings = [
        finding
        for finding in checker.findings
        if finding.rule in _UNSUPPRESSIBLE or finding.rule not in allowed.get(finding.line, ())
    ]
    findings.extend(_check_non_ascii(text))
    unique = {(finding.line, finding.column, finding.rule): finding for finding in reversed(findings)}
    return sorted(unique.values(), key=lambda finding: (finding.line, finding.column, finding.rule))


def encoded_command(script: str) -> str:
    """The powershell.exe command line that runs script through -EncodedCommand."""
    return ENCODED_COMMAND_PREFIX + base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def encoded_command_length(script: str) -> int:
    """Length of encoded_command(script); cmd.exe refuses command lines over CMD_EXE_MAX_COMMAND_LINE characters."""
    return len(encoded_command(script))


def iter_ps1_files(root: Path | str) -> list[Path]:
    """Every *.ps1 file under root/plugins and root/roles, sorted."""
    files: list[Path] = []
    for top in ("plugins", "roles"):
        base = Path(root) / top
        if base.is_dir():
            files.extend(path for path in base.rglob("*") if path.suffix.lower() == ".ps1" and path.is_file())
    return sorted(files)


def check_file(path: Path | str) -> list[Finding]:
    path = Path(path)
    return check_powershell(path.read_bytes().decode("utf-8", "replace"), str(path))


def main(argv: Optional[list[str]] = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    paths = [Path(argument) for argument in arguments] or iter_ps1_files(REPO_ROOT)
    total = 0
    for path in paths:
        for finding in check_file(path):
            print(finding.format(str(path)))
            total += 1
    print(f"{len(paths)} file(s) checked, {total} finding(s)", file=sys.stderr)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
