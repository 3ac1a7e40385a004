"""Mutation testing: make one small bug at a time in the code that decides what users see, run the tests
that should notice, and print the share of bugs they caught (the kill rate) per file.

    python tests/mutation/run.py                  # the sample (see --sample), two workers
    python tests/mutation/run.py --sample 0       # every mutant (hours)
    python tests/mutation/run.py --only _verdict --list

Python files are mutated on their syntax tree (comparison and boolean operators, constants, `not`,
`+`/`-`, return values, conditions, removed calls); `_acs_runner.ps1` on its text (comparison and logical
operators, `$true`/`$false`, string and number literals, removed statements), and a PowerShell mutant
the grammar checker rejects is not counted (PowerShell would refuse it before running a line). Each
mutant is written into a private copy of the repository that the collection loads from, and its tests
run with `pytest -x` under a timeout; a mutant is killed when they fail or time out.

Sampling: every mutant of a file is enumerated in a fixed order, then --sample N picks N of them per
file at random with a fixed --seed, so two runs of the same tree test the same mutants.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import dataclasses
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t

REPO = pathlib.Path(__file__).resolve().parents[2]
UTILS = "plugins/plugin_utils"
UNIT = "tests/unit/plugins/plugin_utils"
RUNNER_E2E = "tests/e2e/test_runner_executed.py"
MARKER = "no mutate"           # a line carrying this comment is not mutated


@dataclasses.dataclass(frozen=True)
class Target:
    path: str                          # relative to the repository
    tests: tuple[str, ...]             # what runs against its mutants
    functions: tuple[str, ...] = ()    # only these top-level functions (empty: the whole file)
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.path.rsplit("/", 1)[-1]


VERDICT_TESTS = ("tests/unit/test_catalog_doc.py", f"{UNIT}/test_catalog_independent.py", f"{UNIT}/test_verdict_edges.py",
                 f"{UNIT}/test_winver_edges.py", f"{UNIT}/test_verdict.py", f"{UNIT}/test_verdict_properties.py",
                 f"{UNIT}/test_agents.py", f"{UNIT}/test_catalog.py", f"{UNIT}/test_winver.py")
EVIDENCE_TESTS = (f"{UNIT}/test_evidence_independent.py", f"{UNIT}/test_probes_independent.py",
                  f"{UNIT}/test_evidence_signals.py", RUNNER_E2E)
# The crafted-input tests first: they take a second and kill most mutants before the signing tests run.
SIGNATURE_TESTS = (f"{UNIT}/test_pe_headers.py", f"{UNIT}/test_cms_crafted.py", f"{UNIT}/test_certs_crafted.py",
                   f"{UNIT}/test_timestamps_crafted.py", f"{UNIT}/test_inspect_crafted.py", f"{UNIT}/test_cfb_crafted.py",
                   f"{UNIT}/test_trust_crafted.py", f"{UNIT}/test_der_independent.py",
                   f"{UNIT}/test_signature_edges.py", f"{UNIT}/test_signature.py",
                   "tests/unit/plugins/action/test_acs_agent_package.py")

TARGETS: tuple[Target, ...] = (
    Target(f"{UTILS}/_verdict.py", VERDICT_TESTS),
    # The prerequisites a catalog row names reach users in what acs_hotfix asks them to fetch.
    Target(f"{UTILS}/_catalog.py", (*VERDICT_TESTS, f"{UNIT}/test_hotfix.py")),
    Target(f"{UTILS}/_winver.py", VERDICT_TESTS),
    Target(f"{UTILS}/_evidence.py", EVIDENCE_TESTS),
    # The bootstrap command and which connections wrap it are checked where the action plugin sends them.
    Target(f"{UTILS}/_probes.py", (*EVIDENCE_TESTS, "tests/unit/plugins/action/test_acs_facts_replay.py")),
    Target(f"{UTILS}/_gate.py", (f"{UNIT}/test_gate_edges.py", f"{UNIT}/test_gate.py",
                                 "tests/unit/plugins/action/test_acs_agent_package.py")),
    *(Target(f"{UTILS}/_authenticode/{module}", SIGNATURE_TESTS, label=f"_authenticode/{module}")
      for module in ("__init__.py", "_certs.py", "_cfb.py", "_cms.py", "_der.py", "_msi.py", "_pe.py",
                     "_timestamps.py", "_trust.py", "_verdict.py")),
    # The report became a package: the CSV guard is csv_report.py (cells, rows) and plain.clean (control characters).
    Target(f"{UTILS}/_report/csv_report.py", (f"{UNIT}/test_report_csv_guard.py", f"{UNIT}/test_report.py",
                                              f"{UNIT}/test_report_changes.py", f"{UNIT}/test_report_remediation.py"),
           functions=("_cell", "_yes_no", "csv_row", "render_csv"), label="_report/csv_report.py (CSV)"),
    Target(f"{UTILS}/_report/plain.py", (f"{UNIT}/test_report_csv_guard.py", f"{UNIT}/test_report.py"),
           functions=("clean",), label="_report/plain.py (CSV)"),
    Target(f"{UTILS}/_acs_runner.ps1", (f"{UNIT}/test_runner_limits.py", RUNNER_E2E, "tests/e2e/test_runner_raw_facts.py",
                                        f"{UNIT}/test_probes_independent.py", f"{UNIT}/test_evidence_signals.py")),
)


@dataclasses.dataclass(frozen=True)
class Mutant:
    target: Target
    index: int
    line: int
    description: str
    make: t.Callable[[], str]          # the whole mutated file (built only for the mutants that run)


# ---------------------------------------------------------------------------------------------
# Python: mutations of the syntax tree
_COMPARE_SWAP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
                 ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add}
_SKIP_FIELDS = {"annotation", "returns", "type_comment", "decorator_list"}


def _nodes(tree: ast.AST):
    """Every node that may be mutated, in a fixed order; annotations, docstrings and f-string text excluded."""
    def visit(node, in_fstring=False):
        yield node, in_fstring
        for name, value in ast.iter_fields(node):
            if name in _SKIP_FIELDS:
                continue
            children = value if isinstance(value, list) else [value]
            for position, child in enumerate(children):
                if not isinstance(child, ast.AST):
                    continue
                if (name == "body" and position == 0 and isinstance(child, ast.Expr)
                        and isinstance(child.value, ast.Constant) and isinstance(child.value.value, str)):
                    continue    # a docstring
                yield from visit(child, in_fstring or isinstance(node, ast.JoinedStr))
    yield from visit(tree)


def _operations(node: ast.AST, in_fstring: bool):
    """(description, apply) for each way of mutating this node."""
    if isinstance(node, ast.Compare):
        for position, op in enumerate(node.ops):
            swap = _COMPARE_SWAP.get(type(op))
            if swap:
                yield (f"{type(op).__name__} -> {swap.__name__}",
                       lambda n, p=position, s=swap: n.ops.__setitem__(p, s()))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield f"{type(node.op).__name__} -> {other.__name__}", lambda n, o=other: setattr(n, "op", o())
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
        swap = _BINOP_SWAP[type(node.op)]
        yield f"{type(node.op).__name__} -> {swap.__name__}", lambda n, s=swap: setattr(n, "op", s())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "drop not", "unwrap"
    elif isinstance(node, ast.Constant) and not in_fstring:
        value = node.value
        if isinstance(value, bool):
            yield f"{value} -> {not value}", lambda n: setattr(n, "value", not n.value)
        elif isinstance(value, int):
            yield f"{value} -> {value + 1}", lambda n: setattr(n, "value", n.value + 1)
        elif isinstance(value, str) and value:
            yield f"{value[:30]!r} -> 'XX'", lambda n: setattr(n, "value", "XX" + n.value[2:]
                                                               if len(n.value) > 2 else "XX")
    elif isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        yield "return None", lambda n: setattr(n, "value", ast.Constant(None))
    elif isinstance(node, (ast.If, ast.While)):
        yield "negate condition", lambda n: setattr(n, "test", ast.UnaryOp(ast.Not(), n.test))
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        yield "remove call", "pass"


def _function_lines(tree: ast.Module, functions: tuple[str, ...]) -> set[int]:
    lines: set[int] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in functions:
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def python_mutants(target: Target) -> list[Mutant]:
    text = (REPO / target.path).read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    allowed = _function_lines(tree, target.functions) if target.functions else None
    points = []
    for index, (node, in_fstring) in enumerate(_nodes(tree)):
        line = getattr(node, "lineno", None)
        if line is None or (allowed is not None and line not in allowed) or MARKER in lines[line - 1]:
            continue
        for number, (description, _apply) in enumerate(_operations(node, in_fstring)):
            points.append((index, number, line, description))

    def make(index: int, number: int) -> str:
        fresh = ast.parse(text)
        parents = {child: parent for parent in ast.walk(fresh) for child in ast.iter_child_nodes(parent)}
        node, in_fstring = list(_nodes(fresh))[index]
        _description, apply = list(_operations(node, in_fstring))[number]
        if apply in ("unwrap", "pass"):
            _replace(parents[node], node, node.operand if apply == "unwrap" else ast.Pass())
        else:
            apply(node)
        return ast.unparse(ast.fix_missing_locations(fresh)) + "\n"

    return [Mutant(target, position, line, description, lambda i=index, n=number: make(i, n))
            for position, (index, number, line, description) in enumerate(points)]


def _replace(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return
        if isinstance(value, list) and any(item is old for item in value):
            value[[i for i, item in enumerate(value) if item is old][0]] = new
            return
    raise AssertionError("node not found in its parent")


# ---------------------------------------------------------------------------------------------
# PowerShell: mutations of the text, line by line
_PS_SWAP = {"-eq": "-ne", "-ne": "-eq", "-lt": "-ge", "-ge": "-lt", "-gt": "-le", "-le": "-gt", "-and": "-or",
            "-or": "-and", "-like": "-notlike", "-notlike": "-like", "-match": "-notmatch", "-notmatch": "-match",
            "-is": "-isnot", "-isnot": "-is", "$true": "$false", "$false": "$true", "$null": "'XX'"}
_PS_TOKEN = re.compile(r"(?<![\w$-])(-(?:eq|ne|lt|ge|gt|le|and|or|like|notlike|match|notmatch|isnot|is)\b|"
                       r"\$true\b|\$false\b|\$null\b)", re.IGNORECASE)
_PS_STRING = re.compile(r"'(?:[^']|'')+'|\"(?:[^\"`]|`.)+\"")
_PS_NUMBER = re.compile(r"(?<![\w.$-])(\d+)(?![\w.])")


def _code_part(line: str) -> str:
    """The line up to a comment ('#' outside quotes)."""
    quote = None
    for position, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:position]
    return line


def _removable(code: str) -> bool:
    stripped = code.strip()
    if not stripped or stripped[0] in "}{)" or stripped[-1] in "{(|,`+" or stripped.startswith(
            ("else", "elseif", "catch", "finally", "function", "param", "return", "}")):
        return False
    return all(stripped.count(a) == stripped.count(b) for a, b in ("()", "{}", "[]"))


def ps1_mutants(target: Target) -> list[Mutant]:
    sys.path.insert(0, str(REPO / "tests"))
    from support.ps_grammar import check_powershell  # pylint: disable=import-outside-toplevel

    text = (REPO / target.path).read_text(encoding="utf-8")
    lines = text.split("\n")
    baseline = {(f.rule, f.message) for f in check_powershell(text)}
    candidates = []
    for number, line in enumerate(lines, 1):
        code = _code_part(line)
        if MARKER in line or not code.strip():
            continue
        strings = [(m.start(), m.end()) for m in _PS_STRING.finditer(code)]

        def in_string(pos: int, strings=strings) -> bool:
            return any(a <= pos < b for a, b in strings)

        for match in _PS_TOKEN.finditer(code):
            if in_string(match.start()):
                continue
            token = match.group(0)
            swap = _PS_SWAP[token.lower()]
            candidates.append((number, f"{token} -> {swap}", code[:match.start()] + swap + code[match.end():]))
        for start, end in strings:
            literal = code[start:end]
            candidates.append((number, f"{literal[:30]} -> 'XmutX'", code[:start] + "'XmutX'" + code[end:]))
        for match in _PS_NUMBER.finditer(code):
            if in_string(match.start()):
                continue
            value = int(match.group(1))
            candidates.append((number, f"{value} -> {value + 1}",
                               code[:match.start()] + str(value + 1) + code[match.end():]))
        if _removable(code):
            candidates.append((number, "remove statement", ""))
    mutants, invalid = [], 0
    for number, description, replacement in candidates:
        mutated = lines[:number - 1] + [replacement] + lines[number:]
        source = "\n".join(mutated)
        if {(f.rule, f.message) for f in check_powershell(source)} - baseline:
            invalid += 1    # PowerShell would refuse to parse it: not a bug a test has to catch
            continue
        mutants.append(Mutant(target, len(mutants), number, description, lambda s=source: s))
    print(f"{target.name}: {invalid} mutants the grammar rejects were left out", file=sys.stderr)
    return mutants


def mutants_of(target: Target) -> list[Mutant]:
    return ps1_mutants(target) if target.path.endswith(".ps1") else python_mutants(target)


# ---------------------------------------------------------------------------------------------
# Running
class Sandbox:
    """A private copy of the repository that the collection loads from, one per worker."""

    def __init__(self, root: pathlib.Path):
        self.repo = root / "repo"
        shutil.copytree(REPO, self.repo, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", ".venv*", ".work", "reports", "output", "__pycache__", ".pytest_cache"))
        collections = root / "collections" / "ansible_collections"
        (collections / "codesign").mkdir(parents=True)
        (collections / "codesign" / "windows").symlink_to(self.repo)
        source = pathlib.Path(os.environ.get("ANSIBLE_COLLECTIONS_PATH", REPO / ".work" / "collections"))
        for namespace in (source / "ansible_collections").iterdir():
            if namespace.name != "codesign":
                (collections / namespace.name).symlink_to(namespace.resolve())
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(root / "collections"),
                        ANSIBLE_CONFIG=str(self.repo / "tests" / "ansible.cfg"), PYTHONDONTWRITEBYTECODE="1")

    def pytest(self, tests: tuple[str, ...], timeout: float) -> tuple[str, float]:
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", *tests]
        started = time.monotonic()
        try:
            completed = subprocess.run(command, cwd=self.repo, env=self.env, capture_output=True, text=True,
                                       timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return "timeout", time.monotonic() - started
        outcome = {0: "survived", 1: "killed"}.get(completed.returncode, f"error {completed.returncode}")
        if outcome.startswith("error") and completed.returncode == 2:
            outcome = "killed"    # an import error or collection error: the tests refuse the mutant
        elif completed.returncode == 4 and "ImportError while loading conftest" in completed.stderr:
            # A conftest imports the collection: the mutated module cannot even be imported (pytest exits 4
            # for that, as for a usage error, which stays an error).
            outcome = "killed"
        return outcome, time.monotonic() - started

    def run(self, mutant: Mutant, timeout: float) -> tuple[str, float]:
        path = self.repo / mutant.target.path
        original = path.read_text(encoding="utf-8")
        path.write_text(mutant.make(), encoding="utf-8")
        try:
            return self.pytest(mutant.target.tests, timeout)
        finally:
            path.write_text(original, encoding="utf-8")


_RESULT_LINE = re.compile(r"^\s+(survived|timeout|error \d+)\s+[\d.]+s (.+?):(\d+): (.+?)(?: \[#(\d+)\])?(?:  <--)?$")


def _survivors(log: pathlib.Path) -> list[tuple[str, int, str, int | None, str]]:
    """(file, line, mutation, index, outcome) of every mutant a previous run did not clearly kill: the survivors,
    and the timeouts (counted as killed, but a loaded machine times out too). The index is None in logs written
    before result lines carried it."""
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        match = _RESULT_LINE.match(line)
        if match:
            index = int(match.group(5)) if match.group(5) else None
            found.append((match.group(2), int(match.group(3)), match.group(4), index, match.group(1)))
    return found


def _earlier_outcomes(target: Target, mutants: list[Mutant], entries) -> dict[int, str]:
    """Mutant index -> its outcome in the earlier run, for the sampled mutants that run did not clearly kill.
    Two mutants can share a line and a mutation (the same number twice on a line): an entry with an index names
    its mutant; one without is given to the look-alikes in order, as the log lists them in order."""
    by_key: dict[tuple[int, str], list[str]] = {}
    found = {}
    for name, line, description, index, outcome in entries:
        if name != target.name:
            continue
        if index is not None:
            found[index] = outcome
        else:
            by_key.setdefault((line, description), []).append(outcome)
    for mutant in mutants:
        waiting = by_key.get((mutant.line, mutant.description))
        if waiting and mutant.index not in found:
            found[mutant.index] = waiting.pop(0)
    return found


_SUMMARY_LINE = re.compile(r"^  (\S.*?)\s+(\d+) / (\d+)\s+[\d.]+%")


def _summary(log: pathlib.Path) -> dict[str, tuple[int, int]]:
    """(killed, run) per file from a previous run's summary."""
    found = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        match = _SUMMARY_LINE.match(line)
        if match:
            found[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sample", type=int, default=int(os.environ.get("MUTATION_SAMPLE", "25")),
                        help="mutants per file, picked at random with --seed (0: all); default 25")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("MUTATION_SEED", "2021")))
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "2")))
    parser.add_argument("--only", default=os.environ.get("MUTATION_ONLY", ""),
                        help="only targets whose name contains this text (comma-separated)")
    parser.add_argument("--timeout-factor", type=float, default=3.0,
                        help="a mutant's tests time out after this many times the unmutated run, plus 10 s")
    parser.add_argument("--list", action="store_true", help="print the sampled mutants and stop")
    parser.add_argument("--rerun", metavar="LOG",
                        help="run only the mutants a previous run's output shows as survivors (after adding tests)")
    args = parser.parse_args(argv)

    wanted = [w for w in args.only.split(",") if w]
    targets = [t for t in TARGETS if not wanted or any(w in t.name for w in wanted)]
    rerun = _survivors(pathlib.Path(args.rerun)) if args.rerun else None
    if rerun is not None:
        targets = [t for t in targets if any(entry[0] == t.name for entry in rerun)]
    chosen: list[Mutant] = []
    totals = {}
    earlier_outcome: dict[tuple[str, int], str] = {}
    for target in targets:
        mutants = mutants_of(target)
        totals[target.name] = len(mutants)
        if args.sample and len(mutants) > args.sample:
            mutants = sorted(random.Random(f"{args.seed}:{target.name}").sample(mutants, args.sample),
                             key=lambda m: m.index)
        if rerun is not None:
            # the same sample as the earlier run (same seed), so that look-alike mutants are not run twice
            outcomes = _earlier_outcomes(target, mutants, rerun)
            earlier_outcome.update({(target.name, index): outcome for index, outcome in outcomes.items()})
            mutants = [m for m in mutants if m.index in outcomes]
        chosen.extend(mutants)
    if args.list:
        for mutant in chosen:
            print(f"{mutant.target.name}:{mutant.line}: {mutant.description}")
        print(f"{len(chosen)} mutants of {sum(totals.values())}")
        return 0

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="acs-mutation-") as scratch:
        sandboxes = []
        for number in range(max(1, args.jobs)):
            root = pathlib.Path(scratch) / f"w{number}"
            root.mkdir()
            sandboxes.append(Sandbox(root))
        baseline: dict[str, float] = {}
        by_tests: dict[tuple[str, ...], float] = {}
        for target in targets:
            if target.tests not in by_tests:
                outcome, by_tests[target.tests] = sandboxes[0].pytest(target.tests, timeout=900)
                if outcome != "survived":
                    print(f"{target.name}: its tests fail without any mutant ({outcome}); fix them first")
                    return 2
            baseline[target.name] = seconds = by_tests[target.tests]
            print(f"{target.name}: {totals[target.name]} mutants, tests take {seconds:.1f} s unmutated",
                  flush=True)

        free = list(sandboxes)
        results: dict[str, list[tuple[Mutant, str]]] = {t.name: [] for t in targets}

        def work(mutant: Mutant) -> tuple[Mutant, str, float]:
            sandbox = free.pop()
            try:
                outcome, seconds = sandbox.run(mutant, baseline[mutant.target.name] * args.timeout_factor + 10)
            finally:
                free.append(sandbox)
            return mutant, outcome, seconds

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(sandboxes)) as pool:
            for mutant, outcome, seconds in pool.map(work, chosen):
                results[mutant.target.name].append((mutant, outcome))
                flag = "" if outcome in ("killed", "timeout") else "  <--"
                print(f"  {outcome:9} {seconds:5.1f}s {mutant.target.name}:{mutant.line}: {mutant.description}"
                      f" [#{mutant.index}]{flag}", flush=True)

    print("\nkill rate per file (killed / mutants run; a timeout counts as killed)")
    earlier = _summary(pathlib.Path(args.rerun)) if args.rerun else {}
    if earlier:
        print("with --rerun: the earlier run's kills plus the survivors killed now, over the earlier run's mutants")
    worst = 100.0
    for target in targets:
        runs = results[target.name]
        if not runs:
            continue
        killed = sum(1 for _m, outcome in runs if outcome in ("killed", "timeout"))
        if target.name in earlier:
            killed_before, runs_before = earlier[target.name]
            timed_out_before = sum(1 for mutant, _outcome in runs
                                   if earlier_outcome.get((target.name, mutant.index)) == "timeout")
            killed, runs = killed + killed_before - timed_out_before, runs + [None] * (runs_before - len(runs))
        rate = 100.0 * killed / len(runs)
        worst = min(worst, rate)
        print(f"  {target.name:32} {killed:4} / {len(runs):<4} {rate:5.1f}%   (of {totals[target.name]} mutants)")
        for mutant, outcome in results[target.name]:
            if outcome not in ("killed", "timeout"):
                print(f"      {outcome}: line {mutant.line}: {mutant.description}")
    print(f"\n{len(chosen)} mutants in {(time.monotonic() - started) / 60:.1f} min; lowest kill rate {worst:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
