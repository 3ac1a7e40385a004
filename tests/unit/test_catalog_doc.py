"""docs/catalog.md is the reviewed, published form of the catalog: every text of the catalog (sources, notes,
hold-back advice) shows there, so a change to one that the page does not show fails here as in `make docs-check`."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_docs_catalog_page_is_the_catalog():
    loader = importlib.machinery.SourceFileLoader("render_catalog_doc", str(REPO / "scripts" / "render-catalog-doc"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    assert module.render() == (REPO / "docs" / "catalog.md").read_text(encoding="utf-8"), \
        "docs/catalog.md differs from the catalog: run python scripts/render-catalog-doc and review the change"
