"""The messages the collection can put in front of a user, read from the plugins' source.

A message is a string (or f-string) given as `msg=` to a call, or as the first argument of an exception
raised in plugins/. Its *key* is its longest literal run of text (the parts between placeholders), which
is what a user would search for; docs/troubleshooting.md must contain every key.
"""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import re

MIN_KEY = 12


@dataclasses.dataclass(frozen=True)
class Message:
    path: str
    line: int
    text: str
    key: str


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "\x00" for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        if left is not None or right is not None:
            return (left or "\x00") + (right or "\x00")
    return None


def _key(text: str) -> str:
    runs = [run.strip(" :;,.({[\"'") for run in text.split("\x00")]
    runs = [re.sub(r"\s+", " ", run) for run in runs]
    return max(runs, key=len) if runs else ""


def messages(root: pathlib.Path) -> list[Message]:
    found = []
    for path in sorted((root / "plugins").rglob("*.py")):
        if path.parent.name in ("modules", "doc_fragments"):
            continue   # documentation only
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            candidates = []
            if isinstance(node, ast.Call):
                candidates += [kw.value for kw in node.keywords if kw.arg == "msg"]
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                candidates.append(node.exc.args[0])
            for candidate in candidates:
                text = _text(candidate)
                if text is None:
                    continue
                key = _key(text)
                if len(key) >= MIN_KEY:
                    found.append(Message(str(path.relative_to(root)), candidate.lineno, text.replace("\x00", "{…}"), key))
    return found
