# -*- coding: utf-8 -*-
# Copyright: contributors to codesign.windows
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the report shows Trend Micro agents. What an agent is, its service states and the per-product
lists come from the shared agent model (plugin_utils/_agents.py); this module only shapes them for display.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible_collections.codesign.windows.plugins.plugin_utils._agents import (
    aggregate_products,
    normalize_service_state,
    service_down,
)
from ansible_collections.codesign.windows.plugins.plugin_utils._report.plain import flag, text, texts, unique


def short_product_name(name: str) -> str:
    # "Trend Micro Deep Security Agent / Cloud One Workload Security" does not fit a table cell.
    short = name[len("Trend Micro "):] if name.startswith("Trend Micro ") else name
    return short.split(" / ")[0].strip() or name


def agents_of(verdict: t.Mapping[str, t.Any], evidence: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The host's agents as the report shows them: the verdict's, else (no verdict) the evidence's."""
    items = verdict.get("agents")
    if not isinstance(items, list) or not items:
        # Without a verdict the evidence still shows a stopped agent service.
        items = evidence.get("agents") if isinstance(evidence.get("agents"), list) else []
    agents = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        product = text(item.get("product")) or "unknown"
        state = normalize_service_state(item.get("service_state"))
        name = text(item.get("name")) or product
        agents.append({
            "product": product,
            "name": name,
            "label": short_product_name(name),
            "version": text(item.get("version")),
            "service_state": state,
            "service_down": service_down(state),
            "upgrade_safe": item.get("upgrade_safe") is True,
            "affected": flag(item.get("affected")),
            "advice": texts(item.get("advice")),
        })
    return agents


def products(views: list[dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """Per product: the hosts that may take an ACS-signed build, those that may not, versions."""
    return aggregate_products(views)


def hold_back_agents(agents: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return [{"product": agent["product"], "name": agent["name"], "version": agent["version"] or None,
             "service_state": agent["service_state"]} for agent in agents]


def hold_back_advice(agents: list[dict[str, t.Any]]) -> list[str]:
    return unique(advice for agent in agents for advice in agent["advice"])


def agent_text(agent: t.Mapping[str, t.Any]) -> str:
    return " ".join(part for part in (agent["label"], agent["version"]) if part)


def document_agent_text(agent: t.Mapping[str, t.Any]) -> str:
    """An agent of a document's hold-back entry (read back from JSON), in a few words."""
    return " ".join(part for part in (short_product_name(text(agent.get("name") or agent.get("product"))),
                                      text(agent.get("version"))) if part)


def service_text(agents: list[dict[str, t.Any]]) -> str:
    states = unique((agent["service_state"] or "unknown").replace("_", " ") for agent in agents)
    return ", ".join(state.capitalize() for state in states)


def csv_agents(agents: list[dict[str, t.Any]]) -> str:
    return "; ".join(" ".join(part for part in (agent["product"], agent["version"], agent["service_state"] or "")
                              if part) for agent in agents)
