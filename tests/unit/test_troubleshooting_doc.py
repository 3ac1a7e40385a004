"""docs/troubleshooting.md lists every message the plugins can show a user, with what to do."""

from __future__ import annotations

import pathlib
import re

from support.plugin_messages import messages

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_every_plugin_message_is_in_the_troubleshooting_page():
    page = re.sub(r"\s+", " ", (REPO / "docs" / "troubleshooting.md").read_text(encoding="utf-8").replace("\\|", "|"))
    found = messages(REPO)
    assert len(found) > 100, "the message reader found too few messages: it is broken"
    missing = sorted({f"{message.path}:{message.line}: {message.key}" for message in found if message.key not in page})
    assert not missing, "add these messages to docs/troubleshooting.md:\n" + "\n".join(missing)
