"""Shared pytest set-up: load codesign.windows through Ansible's collection loader.

`make setup` links this repository into .work/collections/ansible_collections/codesign/windows
(ANSIBLE_COLLECTIONS_PATH points there), so tests import the collection exactly as Ansible does.
"""
import os
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
COLLECTIONS = pathlib.Path(os.environ.get("ANSIBLE_COLLECTIONS_PATH", REPO / ".work" / "collections"))

if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


def _install_collection_loader() -> None:
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    if any(type(f).__name__ == "_AnsibleCollectionFinder" for f in sys.meta_path):
        return
    finder = _AnsibleCollectionFinder(paths=[str(COLLECTIONS)], scan_sys_paths=False)
    finder._install()  # pylint: disable=protected-access


_install_collection_loader()
