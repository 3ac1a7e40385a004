"""A PowerShell interpreter for the subset codesign.windows sends to Windows hosts.

The script is parsed with the tree-sitter PowerShell grammar the tests already use
(tests/support/ps_grammar.py), and the syntax tree is evaluated here. What the host provides (the
registry, WMI, services, files, runspaces) comes from a `host` object: its `types` map .NET type names
to objects with static members, its `cmdlets` map cmdlet names to Python callables. Anything the
interpreter does not model raises UnsupportedConstruct, so a script cannot use what the emulated hosts
cannot run.

Semantics follow PowerShell 2.0 where versions differ; see runtime.py for each rule and its source.
"""

from __future__ import annotations

import datetime
import typing as t

from support import ps_grammar

from emulator.pwsh import native
from emulator.pwsh.runtime import (
    AUTOMATION_NULL, ActionPreferenceStopException, ArrayList, CommandNotFoundException, ErrorRecord, Hashtable,
    MethodInvocationException, NetException, NetObject, RuntimeException, ScriptBlock, ScriptError, StringBuilder,
    UnsupportedConstruct, arithmetic, compare, contains, enumerate_value, format_operator, is_type, match,
    replace, to_bool, to_int, to_number, to_string, type_name,
)

# Nodes that only wrap one operand when no operator is present.
WRAPPERS = frozenset((
    "pipeline_chain", "logical_expression", "bitwise_expression", "comparison_expression", "additive_expression",
    "multiplicative_expression", "format_expression", "range_expression", "array_literal_expression",
    "unary_expression", "argument_expression", "logical_argument_expression", "bitwise_argument_expression",
    "comparison_argument_expression", "additive_argument_expression", "multiplicative_argument_expression",
    "format_argument_expression", "range_argument_expression", "left_assignment_expression", "key_expression",
    "while_condition", "switch_condition", "switch_clause_condition",
))
SKIP = frozenset(("comment", "empty_statement", ";", "command_argument_sep"))


class Char(str):
    """[char]: what String.ToCharArray() yields; [int] of it is the code point."""


class ParseError(Exception):
    pass


class _Return(Exception):
    def __init__(self, value):
        super().__init__()
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class TypeRef:
    """A type literal used as a value: [Type]::Member, or the operand of -is / a cast."""

    def __init__(self, name: str, static: t.Any):
        self.name = name
        self.static = static


class Scope:
    def __init__(self, parent: "Scope | None" = None):
        self.parent = parent
        self.variables: dict[str, t.Any] = {}
        self.functions: dict[str, t.Any] = {}

    def lookup(self, name: str) -> tuple[bool, t.Any]:
        scope = self
        while scope is not None:
            if name in scope.variables:
                return True, scope.variables[name]
            scope = scope.parent
        return False, None

    def function(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.functions:
                return scope.functions[name]
            scope = scope.parent
        return None

    def root(self) -> "Scope":
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope


# Syntax trees are immutable and every emulated host runs the same scripts: parses are kept by text, and
# the child lists and unwrapped forms of their nodes by node id (stable while the tree is kept).
_PARSED: dict[str, t.Any] = {}
_CHILDREN: dict[int, list] = {}
_NAMED: dict[int, list] = {}
_UNWRAPPED: dict[int, t.Any] = {}
_TEXT: dict[int, str] = {}
_PARAMS: dict[tuple, list] = {}
_TYPE_NAMES: dict[int, str] = {}
_VARIABLE_NAMES: dict[int, str] = {}
_PIPELINE_VALUE: dict[int, tuple] = {}
_STAGES: dict[int, list] = {}
_BINARY: dict[int, tuple] = {}
_MAX_PARSED = 256


def _children(node) -> list:
    found = _CHILDREN.get(node.id)
    if found is None:
        found = _CHILDREN[node.id] = [child for child in node.children if child.type not in SKIP]
    return found


def _named(node) -> list:
    found = _NAMED.get(node.id)
    if found is None:
        found = _NAMED[node.id] = [child for child in node.named_children if child.type not in SKIP]
    return found


def _parse_cached(text: str):
    parsed = _PARSED.get(text)
    if parsed is None:
        if len(_PARSED) >= _MAX_PARSED:
            # Forget every tree at once, so that no cached node id outlives its tree.
            for cache in (_PARSED, _CHILDREN, _NAMED, _UNWRAPPED, _TEXT, _PARAMS, _TYPE_NAMES, _VARIABLE_NAMES,
                          _PIPELINE_VALUE, _STAGES, _BINARY):
                cache.clear()
        parsed = _PARSED[text] = ps_grammar._parse_tolerant(text.encode("utf-8"))  # pylint: disable=protected-access
    return parsed


class Interpreter:
    def __init__(self, host: t.Any = None, version: tuple[int, int] = (2, 0)):
        self.host = host
        self.version = version
        self.global_scope = Scope()
        self.global_scope.variables.update({
            "null": None, "true": True, "false": False, "erroractionpreference": "Continue",
            "progresspreference": "Continue", "ofs": " ",
            "executioncontext": NetObject.of(SessionState=NetObject.of(
                LanguageMode=getattr(host, "language_mode", "FullLanguage"))),
            "psversiontable": Hashtable({"PSVersion": f"{version[0]}.{version[1]}", "CLRVersion": "2.0.50727.8806"
                                         if version < (3, 0) else "4.0.30319.42000"}),
        })
        self.types: dict[str, t.Any] = {**BUILTIN_TYPES, **{k.lower(): v for k, v in getattr(host, "types", {}).items()}}
        self.cmdlets: dict[str, t.Callable] = {**BUILTIN_CMDLETS,
                                               **{k.lower(): v for k, v in getattr(host, "cmdlets", {}).items()}}
        factory = _ScriptBlockFactory(self)
        self.types.setdefault("scriptblock", factory)
        self.types.setdefault("system.management.automation.scriptblock", factory)
        self.source = b""
        # What programs wrote to standard error: the process's stderr, never pipeline output.
        self.native_stderr: list[str] = []

    # ----------------------------------------------------------------------------------- entry points
    def parse(self, text: str):
        parsed = _parse_cached(text)
        if parsed.root.has_error:
            findings = [f for f in ps_grammar.check_powershell(text) if f.rule == "syntax"]
            where = findings[0].format("<script>") if findings else "syntax error"
            raise ParseError(where)
        return parsed

    def run(self, text: str, input_items: t.Sequence[t.Any] = (), scope: Scope | None = None) -> list[t.Any]:
        """Run a script; its output, unrolled, as a list. $input holds input_items."""
        parsed = self.parse(text)
        scope = scope or Scope(self.global_scope)
        scope.variables["input"] = list(input_items)
        return self._run_tree(parsed.root, parsed.data, scope)

    def _run_tree(self, root, data: bytes, scope: Scope) -> list[t.Any]:
        saved = self.source
        self.source = data
        out: list[t.Any] = []
        try:
            self.exec_block(root, scope, out)
        except _Return as returned:
            out.extend(enumerate_value(returned.value))
        finally:
            self.source = saved
        return out

    def invoke_scriptblock(self, block: ScriptBlock, arguments: t.Sequence[t.Any] = (), scope: Scope | None = None,
                           input_items: t.Sequence[t.Any] = (), dot: bool = False) -> list[t.Any]:
        inner = scope if dot and scope is not None else Scope(scope or self.global_scope)
        inner.variables["input"] = list(input_items)
        inner.variables["args"] = list(arguments)
        saved = self.source
        self.source = block.source
        out: list[t.Any] = []
        try:
            body = block.node
            self._bind_parameters(body, inner, list(arguments), {})
            self.exec_block(body, inner, out)
        except _Return as returned:
            out.extend(enumerate_value(returned.value))
        finally:
            self.source = saved
        return out

    # ----------------------------------------------------------------------------------- helpers
    def text(self, node) -> str:
        found = _TEXT.get(node.id)
        if found is None:
            found = _TEXT[node.id] = self.source[node.start_byte:node.end_byte].decode("utf-8")
        return found

    def unsupported(self, node, what: str = "") -> UnsupportedConstruct:
        line = self.source[:node.start_byte].count(b"\n") + 1
        return UnsupportedConstruct(f"line {line}: {what or node.type} is not modelled: {self.text(node)[:80]!r}")

    def error(self, exception: NetException, category: str = "NotSpecified") -> ScriptError:
        return ScriptError(ErrorRecord(exception, category))

    # ----------------------------------------------------------------------------------- statements
    def exec_block(self, node, scope: Scope, out: list) -> None:
        """Run every statement under a program, script block, statement block or statement list."""
        for child in _named(node):
            kind = child.type
            if kind in ("statement_list", "script_block_body", "script_block", "statement_block"):
                self.exec_block(child, scope, out)
            elif kind in ("param_block",):
                continue   # bound by the caller
            else:
                self.exec_statement(child, scope, out)

    def exec_statement(self, node, scope: Scope, out: list) -> None:
        handler = _STMT.get(node.type)
        if handler is not None:
            handler(self, node, scope, out)
            return
        raise self.unsupported(node)

    def stmt_pipeline(self, node, scope, out):
        named = _named(node)
        if len(named) == 1 and named[0].type == "assignment_expression":
            self.assign(named[0], scope)
            return
        for value in self.eval_pipeline(node, scope):
            out.append(value)

    def stmt_function_statement(self, node, scope, out):
        name = self.text(next(c for c in node.children if c.type == "function_name")).strip().lower()
        scope.functions[name] = (node, self.source)

    def stmt_if_statement(self, node, scope, out):
        children = _children(node)
        condition = next(c for c in children if c.type == "pipeline")
        block = next(c for c in children if c.type == "statement_block")
        if to_bool(self.eval_pipeline_value(condition, scope)):
            self.exec_block(block, scope, out)
            return
        for child in children:
            if child.type == "elseif_clauses":
                for clause in _named(child):
                    cond = next(c for c in _named(clause) if c.type == "pipeline")
                    if to_bool(self.eval_pipeline_value(cond, scope)):
                        self.exec_block(next(c for c in _named(clause) if c.type == "statement_block"), scope, out)
                        return
            elif child.type == "elseif_clause":
                cond = next(c for c in _named(child) if c.type == "pipeline")
                if to_bool(self.eval_pipeline_value(cond, scope)):
                    self.exec_block(next(c for c in _named(child) if c.type == "statement_block"), scope, out)
                    return
            elif child.type == "else_clause":
                self.exec_block(next(c for c in _named(child) if c.type == "statement_block"), scope, out)
                return

    def stmt_foreach_statement(self, node, scope, out):
        named = _named(node)
        variable = next(c for c in named if c.type == "variable")
        source = next(c for c in named if c.type == "pipeline")
        block = next(c for c in named if c.type == "statement_block")
        items = enumerate_value(self.eval_pipeline_value(source, scope))
        name = self.variable_name(variable)
        for item in items:
            self.set_variable(scope, name, item)
            if not self._loop_body(block, scope, out):
                break

    def stmt_for_statement(self, node, scope, out):
        parts = {child.type: child for child in _named(node)}
        if "for_initializer" in parts:
            self.exec_block(parts["for_initializer"], scope, [])
        while True:
            if "for_condition" in parts:
                condition = _named(parts["for_condition"])[0]
                if not to_bool(self.eval_pipeline_value(condition, scope)):
                    break
            if not self._loop_body(parts["statement_block"], scope, out):
                break
            if "for_iterator" in parts:
                self.exec_block(parts["for_iterator"], scope, [])

    def stmt_for_initializer(self, node, scope, out):
        self.exec_block(node, scope, out)

    def stmt_while_statement(self, node, scope, out):
        named = _named(node)
        condition = next(c for c in named if c.type == "while_condition")
        block = next(c for c in named if c.type == "statement_block")
        while to_bool(self.eval_pipeline_value(_named(condition)[0], scope)):
            if not self._loop_body(block, scope, out):
                break

    def _loop_body(self, block, scope, out) -> bool:
        """One pass of a loop's body; False when it ran `break` (about_Break, about_Continue)."""
        try:
            self.exec_block(block, scope, out)
        except _Continue:
            pass
        except _Break:
            return False
        return True

    def stmt_switch_statement(self, node, scope, out):
        named = _named(node)
        if any(c.type == "switch_parameters" for c in named):
            raise self.unsupported(node, "switch parameters")
        condition = next(c for c in named if c.type == "switch_condition")
        body = next(c for c in named if c.type == "switch_body")
        clauses = list(_named(_named(body)[0])) if _named(body) else []
        values = enumerate_value(self.eval_pipeline_value(_named(condition)[0], scope))
        for value in values:
            matched_any = False
            default = None
            try:
                for clause in clauses:
                    condition_node = next(c for c in _named(clause) if c.type == "switch_clause_condition")
                    block = next(c for c in _named(clause) if c.type == "statement_block")
                    if self.text(condition_node).strip().lower() == "default":
                        default = block
                        continue
                    label = self.eval(condition_node, scope) if _named(condition_node) else \
                        self.clause_label(self.text(condition_node).strip())
                    # about_Switch: a string clause is compared case-insensitively, a number as a number.
                    if compare("eq", value, label) if not isinstance(value, list) else False:
                        matched_any = True
                        self.set_variable(scope, "_", value)
                        self.exec_block(block, scope, out)
                if not matched_any and default is not None:
                    self.set_variable(scope, "_", value)
                    self.exec_block(default, scope, out)
            except _Break:
                break
            except _Continue:
                continue

    @staticmethod
    def clause_label(text: str):
        """A switch clause written as a bare token: 'text', "text", a number, or a bareword string."""
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1].replace(text[0] * 2, text[0])
        try:
            return int(text)
        except ValueError:
            return text

    def stmt_try_statement(self, node, scope, out):
        named = _named(node)
        block = named[0]
        catches = next((c for c in named if c.type == "catch_clauses"), None)
        final = next((c for c in named if c.type == "finally_clause"), None)
        try:
            try:
                self.exec_block(block, scope, out)
            except ScriptError as error:
                handled = False
                for clause in (_named(catches) if catches else []):
                    types = [self.type_literal_name(c) for c in _named(clause) if c.type == "catch_type_list"
                             for c in _named(c)]
                    exception = error.record.exception
                    if types and not any(exception.is_a(name) or exception.is_a("system." + name) for name in types):
                        continue
                    saved_found, saved = scope.lookup("_")
                    self.set_variable(scope, "_", error.record)
                    try:
                        self.exec_block(next(c for c in _named(clause) if c.type == "statement_block"), scope, out)
                    finally:
                        if saved_found:
                            self.set_variable(scope, "_", saved)
                    handled = True
                    break
                if not handled:
                    raise
        finally:
            if final is not None:
                self.exec_block(next(c for c in _named(final) if c.type == "statement_block"), scope, out)

    def stmt_flow_control_statement(self, node, scope, out):
        keyword = node.children[0].type
        operand = next((c for c in _named(node) if c.type == "pipeline"), None)
        if keyword == "return":
            raise _Return(self.eval_pipeline_value(operand, scope) if operand is not None else AUTOMATION_NULL)
        if keyword == "break":
            raise _Break()
        if keyword == "continue":
            raise _Continue()
        if keyword == "throw":
            value = self.eval_pipeline_value(operand, scope) if operand is not None else None
            if isinstance(value, ErrorRecord):
                raise ScriptError(value)
            if isinstance(value, NetException):
                raise self.error(value)
            message = to_string(value) if value is not None else "ScriptHalted"
            raise ScriptError(ErrorRecord(RuntimeException(message), "OperationStopped", value))
        raise self.unsupported(node)

    def stmt_trap_statement(self, node, scope, out):
        raise self.unsupported(node, "trap")

    # ----------------------------------------------------------------------------------- pipelines
    def eval_pipeline_value(self, node, scope):
        """A pipeline used as a value (an if condition, an assignment's right side): its output, one value
        as itself, several as an array, none as AutomationNull."""
        if node.type == "pipeline":
            plan = _PIPELINE_VALUE.get(node.id)
            if plan is None:
                named = _named(node)
                if len(named) == 1 and named[0].type == "assignment_expression":
                    plan = ("assign", named[0])
                else:
                    # An expression alone is its value, arrays kept whole ($x = @(1) keeps an array of one;
                    # about_Assignment_Operators); only what commands write to the pipeline is collected and unrolled.
                    elements = [c for chain in named
                                for c in (_named(chain) if chain.type == "pipeline_chain" else [chain])]
                    plan = ("expression", elements[0]) if len(elements) == 1 and elements[0].type != "command" else \
                        ("pipeline", None)
                _PIPELINE_VALUE[node.id] = plan
            kind, target = plan
            if kind == "assign":
                return self.assign(target, scope)
            if kind == "expression":
                return self.eval(target, scope)
        output = self.eval_pipeline(node, scope)
        if not output:
            return AUTOMATION_NULL
        if len(output) == 1:
            return output[0]
        return output

    def eval_pipeline(self, node, scope) -> list[t.Any]:
        stages = _STAGES.get(node.id)
        if stages is None:
            elements = []
            for child in node.children:
                if child.type == "pipeline_chain":
                    elements.extend(c for c in child.children if c.type not in SKIP)
                elif child.type not in SKIP:
                    elements.append(child)
            stages = [[]]
            for element in elements:
                if element.type == "|":
                    stages.append([])
                else:
                    stages[-1].append(element)
            _STAGES[node.id] = stages
        if len(stages) == 1 and len(stages[0]) == 1 and stages[0][0].type == "assignment_expression":
            self.assign(stages[0][0], scope)
            return []
        items: list[t.Any] | None = None
        for stage in stages:
            if len(stage) != 1:
                raise self.unsupported(node, "pipeline form")
            element = stage[0]
            if element.type == "command":
                items = self.run_command(element, scope, items)
            else:
                if items is not None:
                    raise self.unsupported(element, "an expression after |")
                items = enumerate_value(self.eval(element, scope))
        return items or []

    # ----------------------------------------------------------------------------------- commands
    def run_command(self, node, scope, pipeline_input: list | None) -> list[t.Any]:
        named = _named(node)
        name_node = next(c for c in named if c.type in ("command_name", "command_name_expr"))
        elements = next((c for c in named if c.type == "command_elements"), None)
        operator = next((self.text(c).strip() for c in named if c.type == "command_invokation_operator"), None)
        if name_node.type == "command_name_expr" or operator is not None:
            target_node = _named(name_node)[0] if name_node.type == "command_name_expr" else name_node
            target = self.text(target_node).strip() if target_node.type == "command_name" else \
                self.eval(target_node, scope)
            if operator == "&" and isinstance(target, str):
                # The call operator runs a command named by a string: a path to a program, most often.
                return self.run_named_command(node, target, elements, scope, pipeline_input)
            if not isinstance(target, ScriptBlock):
                raise self.unsupported(node, f"{operator} on something other than a script block or a command name")
            positional, _parameters = self.command_arguments(elements, scope)
            if operator == ".":
                # Dot-sourcing runs the block in the caller's scope: its functions and variables stay.
                return self.invoke_scriptblock(target, positional, scope, pipeline_input or [], dot=True)
            return self.invoke_scriptblock(target, positional, scope, pipeline_input or [])
        name = self.text(name_node).strip()
        if name[:1].isdigit():
            # The grammar reads `1..5` in `foreach ($i in 1..5)` as a command name; PowerShell reads an expression.
            raise self.unsupported(node, "a range or number where the grammar expects a command")
        return self.run_named_command(node, name, elements, scope, pipeline_input)

    def run_named_command(self, node, name, elements, scope, pipeline_input) -> list[t.Any]:
        """A function, a cmdlet, or else a program (about_Command_Precedence; emulator.pwsh.native)."""
        function = scope.function(name.lower())
        if function is not None:
            positional, parameters = self.command_arguments(elements, scope)
            return self.call_function(function, positional, parameters, scope, pipeline_input)
        cmdlet = self.cmdlets.get(name.lower())
        if cmdlet is not None:
            positional, parameters = self.command_arguments(elements, scope)
            return self.call_cmdlet(name, cmdlet, positional, parameters, scope, pipeline_input)
        program, handler, application = native.resolve(name, getattr(self.host, "native_commands", None) or {},
                                                       getattr(self.host, "system_directories", None) or
                                                       (native.SYSTEM_DIRECTORY,))
        if handler is None and application:
            raise self.unsupported(node, f"the program {program}")
        if handler is not None:
            try:
                return self.run_native(handler, self.native_arguments(elements, scope), scope)
            except native.NativeNotFound:
                pass
        raise self.error(CommandNotFoundException(
            f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
            "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
            "and try again."), "ObjectNotFound")

    def native_arguments(self, elements, scope) -> list[str]:
        """A program's arguments as the text PowerShell passes (emulator.pwsh.native: about_Parsing)."""
        arguments: list[str] = []
        items = _named(elements) if elements is not None else []
        index = 0
        while index < len(items):
            item = items[index]
            index += 1
            if item.type == "redirection":
                raise self.unsupported(item, "a redirection of a program's output")
            if item.type == "command_parameter":
                text = self.text(item)
                if text.endswith(":") or self.source[item.end_byte:item.end_byte + 1] == b":":
                    # -Name:value is one argument.
                    value = self._native_text(items[index], scope) if index < len(items) else [""]
                    index += 1
                    arguments.append(text.rstrip(":") + ":" + " ".join(value))
                else:
                    arguments.append(text)
                continue
            arguments.extend(self._native_text(item, scope))
        return arguments

    def _native_text(self, item, scope) -> list[str]:
        if item.type == "generic_token":
            text = self.text(item)
            if "$" in text or "`" in text:
                # A bareword with a variable in it expands in PowerShell; the grammar does not say where.
                raise self.unsupported(item, "a bareword argument with a variable or escape (quote it)")
            return [text]
        value = self.eval(item, scope)
        if isinstance(value, (list, tuple)):
            return [to_string(element) for element in value]
        return [to_string(value)]

    def run_native(self, handler, arguments: list[str], scope) -> list[t.Any]:
        result = handler(self.host, arguments)
        self.native_stderr.extend(result.stderr)
        self.global_scope.variables["lastexitcode"] = int(result.exit_code)
        self.global_scope.variables["?"] = result.exit_code == 0
        return list(result.stdout)

    def command_arguments(self, elements, scope) -> tuple[list, dict]:
        positional: list[t.Any] = []
        parameters: dict[str, t.Any] = {}
        if elements is None:
            return positional, parameters
        items = _named(elements)
        index = 0
        while index < len(items):
            item = items[index]
            if item.type != "command_parameter":
                item = self.unwrap(item)
            if item.type == "command_parameter":
                text = self.text(item)
                name = text[1:].rstrip(":").lower()
                if text.endswith(":") or (index + 1 < len(items) and items[index + 1].type != "command_parameter"
                                          and not self._is_switch(name)):
                    parameters[name] = self.eval(items[index + 1], scope) if index + 1 < len(items) else True
                    index += 2
                    continue
                parameters[name] = True
            elif item.type == "variable" and self.text(item).startswith("@"):
                splat = self.lookup(self.text(item)[1:], scope)
                if isinstance(splat, dict):
                    parameters.update({str(k).lower(): v for k, v in splat.items()})
                else:
                    positional.extend(enumerate_value(splat))
            else:
                positional.append(self.eval(item, scope))
            index += 1
        return positional, parameters

    @staticmethod
    def _is_switch(name: str) -> bool:
        return name in ("force", "recurse", "noprofile", "noninteractive", "passthru", "list")

    def call_cmdlet(self, name, cmdlet, positional, parameters, scope, pipeline_input):
        action = to_string(parameters.pop("erroraction", None) or self.lookup("ErrorActionPreference", scope)).lower()
        try:
            result = cmdlet(self, positional, parameters, pipeline_input or [], scope)
        except ScriptError:
            raise
        except NetException as exception:
            if action != "stop" and not isinstance(exception, CommandNotFoundException):
                # A non-terminating error: written to the error stream, the script goes on.
                self.global_scope.variables.setdefault("error", []).insert(0, ErrorRecord(exception))
                return []
            if self.version < (3, 0):
                # PowerShell 2.0 surfaces the stopped error as ActionPreferenceStopException carrying the
                # original error record; 3.0 and later surface the original exception.
                wrapped = ActionPreferenceStopException(
                    'Command execution stopped because the preference variable "ErrorActionPreference" or common '
                    f'parameter is set to Stop: {exception.message}', inner=None)
                wrapped.ErrorRecord = ErrorRecord(exception, getattr(exception, "category", "NotSpecified"))
                raise self.error(wrapped, getattr(exception, "category", "NotSpecified")) from None
            raise self.error(exception, getattr(exception, "category", "NotSpecified")) from None
        return enumerate_value(result) if not isinstance(result, list) else list(result)

    def call_function(self, function, positional, parameters, scope, pipeline_input):
        node, source = function
        inner = Scope(scope)
        inner.variables["input"] = list(pipeline_input or [])
        saved = self.source
        self.source = source
        out: list[t.Any] = []
        try:
            body = next((c for c in node.children if c.type == "script_block"), None)
            if body is None:   # function F { }
                return out
            self._bind_parameters(body, inner, positional, parameters, function_node=node)
            self.exec_block(body, inner, out)
        except _Return as returned:
            out.extend(enumerate_value(returned.value))
        finally:
            self.source = saved
        return out

    def _bind_parameters(self, body, scope, positional, parameters, function_node=None):
        key = (body.id, function_node.id if function_node is not None else None)
        declared = _PARAMS.get(key)
        if declared is None:
            declared = _PARAMS[key] = self._declared_parameters(body, function_node)
        remaining = list(positional)
        bound = {}
        for name, type_node, default in declared:
            matches = [key for key in parameters if name.startswith(key)] if parameters else ()
            if matches:
                value = parameters.pop(matches[0])
            elif remaining:
                value = remaining.pop(0)
            elif default is not None:
                value = self.eval(_named(default)[-1], scope)
            else:
                value = None
            if type_node is not None:
                value = self.cast(self.type_literal_name(type_node), value, type_node)
            bound[name] = value
        if parameters:
            raise self.error(RuntimeException(f"A parameter cannot be found that matches parameter name "
                                              f"'{next(iter(parameters))}'."), "InvalidArgument")
        scope.variables.update(bound)
        scope.variables["args"] = remaining

    def _declared_parameters(self, body, function_node):
        param_block = None
        candidates = list(_named(body))
        if function_node is not None:
            candidates = list(_named(function_node)) + candidates
        for child in candidates:
            if child.type == "param_block":
                param_block = child
                break
            if child.type in ("script_block_body",):
                break
        declared = []
        if param_block is not None:
            plist = next((c for c in _named(param_block) if c.type == "parameter_list"), None)
            for parameter in (_named(plist) if plist else []):
                variable = next(c for c in _named(parameter) if c.type == "variable")
                type_node = None
                attributes = next((c for c in _named(parameter) if c.type == "attribute_list"), None)
                if attributes is not None:
                    for attribute in _named(attributes):
                        literal = next((c for c in _named(attribute) if c.type == "type_literal"), None)
                        if literal is not None:
                            type_node = literal
                default = next((c for c in _named(parameter) if c.type == "script_parameter_default"), None)
                declared.append((self.variable_name(variable), type_node, default))
        return declared

    # ----------------------------------------------------------------------------------- variables
    def variable_name(self, node) -> str:
        found = _VARIABLE_NAMES.get(node.id)
        if found is None:
            found = _VARIABLE_NAMES[node.id] = self._variable_name(node)
        return found

    def _variable_name(self, node) -> str:
        text = self.text(node)
        if text.startswith("${"):
            text = text[2:-1]
        else:
            text = text.lstrip("$@")
        if ":" in text:
            scope_name, _colon, rest = text.partition(":")
            if scope_name.lower() in ("script", "global", "local", "private", "env"):
                return scope_name.lower() + ":" + rest.lower()
            raise UnsupportedConstruct(f"variable scope or drive {scope_name}:")
        return text.lower()

    def lookup(self, name: str, scope: Scope) -> t.Any:
        name = name.lower()
        if name.startswith(("script:", "global:")):
            found, value = self.global_scope.lookup(name.split(":", 1)[1]) if name.startswith("global:") else \
                scope.root().lookup(name.split(":", 1)[1])
            return value
        if name.startswith(("local:", "private:")):
            name = name.split(":", 1)[1]
        if name.startswith("env:"):
            environment = getattr(self.host, "environment", None)
            return environment(name[4:]) if environment else None
        found, value = scope.lookup(name)
        return value if found else None

    def set_variable(self, scope: Scope, name: str, value: t.Any) -> None:
        name = name.lower()
        if value is AUTOMATION_NULL:
            value = None
        if name.startswith("global:"):
            self.global_scope.variables[name[7:]] = value
        elif name.startswith("script:"):
            scope.root().variables[name[7:]] = value
        else:
            if name.startswith(("local:", "private:")):
                name = name.split(":", 1)[1]
            if name == "null":
                # Assigning to $null discards the value (about_Automatic_Variables, $null: "you can use it ... to
                # discard output"); $true and $false are constants.
                return
            if name in ("true", "false"):
                raise self.error(RuntimeException(f"Cannot overwrite variable {name} because it is read-only or "
                                                  "constant."))
            scope.variables[name] = value

    # ----------------------------------------------------------------------------------- assignment
    def assign(self, node, scope):
        named = _named(node)
        target = named[0]
        operator = self.text(next(c for c in named if c.type == "assignement_operator")).strip()
        value_node = named[-1]
        value = self.eval_pipeline_value(value_node, scope) if value_node.type == "pipeline" else self.eval(value_node, scope)
        if value is AUTOMATION_NULL:
            value = None
        target = self.unwrap(target)
        if operator != "=":
            current = self.eval(target, scope)
            value = arithmetic(operator[0], current, value)
        if target.type == "variable":
            self.set_variable(scope, self.variable_name(target), value)
        elif target.type == "member_access":
            owner_node, member = self.member_parts(target)
            owner = self.eval(owner_node, scope)
            self.set_member(owner, member, value, target)
        elif target.type == "element_access":
            owner_node = _named(target)[0]
            owner = self.eval(owner_node, scope)
            key = self.eval(_named(target)[1], scope)
            if isinstance(owner, dict):
                owner[key] = value
            elif isinstance(owner, list):
                owner[to_int(key)] = value
            else:
                raise self.unsupported(target, "index assignment on " + type_name(owner))
        elif target.type == "cast_expression":
            literal = next(c for c in _named(target) if c.type == "type_literal")
            variable = self.unwrap(_named(target)[-1])
            self.set_variable(scope, self.variable_name(variable), self.cast(self.type_literal_name(literal), value, target))
        else:
            raise self.unsupported(target, "assignment target")
        return value

    def set_member(self, owner, member: str, value, node):
        if isinstance(owner, Hashtable):
            owner[member] = value
            return
        if isinstance(owner, NetObject):
            attribute = self.find_attribute(owner, member)
            setattr(owner, attribute or member, value)
            return
        raise self.unsupported(node, "setting a member of " + type_name(owner))

    # ----------------------------------------------------------------------------------- expressions
    def unwrap(self, node):
        found = _UNWRAPPED.get(node.id)
        if found is not None:
            return found
        start = node
        while node.type in WRAPPERS or node.type == "pipeline":
            named = _named(node)
            if len(named) != 1:
                break
            node = named[0]
        _UNWRAPPED[start.id] = node
        return node

    def eval(self, node, scope) -> t.Any:
        self._scope_for_dynamic = scope
        node = self.unwrap(node)
        kind = node.type
        if kind == "pipeline":
            return self.eval_pipeline_value(node, scope)
        handler = _EXPR.get(kind)
        if handler is None:
            raise self.unsupported(node)
        return handler(self, node, scope)

    # binary operators
    def _binary(self, node, scope):
        plan = _BINARY.get(node.id)
        if plan is None:
            children = _children(node)
            plan = _BINARY[node.id] = (children, [self.text(c).strip().lower() if i % 2 else None
                                                  for i, c in enumerate(children)])
        children, operators = plan
        if len(children) == 1:
            return self.eval(children[0], scope)
        left = self.eval(children[0], scope)
        index = 1
        while index < len(children):
            op = operators[index]
            if op in ("-and", "-or"):
                if op == "-and" and not to_bool(left):
                    left = False
                elif op == "-or" and to_bool(left):
                    left = True
                else:
                    left = to_bool(self.eval(children[index + 1], scope))
                index += 2
                continue
            right_node = children[index + 1]
            if op in ("-is", "-isnot", "-as"):
                literal = self.unwrap(right_node)
                type_text = self.type_literal_name(literal) if literal.type == "type_literal" else to_string(
                    self.eval(right_node, scope))
                if op == "-as":
                    try:
                        left = self.cast(type_text, left, node)
                    except (ScriptError, NetException):
                        left = None
                else:
                    result = is_type(left, type_text)
                    left = result if op == "-is" else not result
                index += 2
                continue
            right = self.eval(right_node, scope)
            left = self.binary(op, left, right, scope, node)
            index += 2
        return left

    def binary(self, op, left, right, scope, node):
        if left is AUTOMATION_NULL:
            left = None
        if right is AUTOMATION_NULL:
            right = None
        bare = op.lstrip("-")
        if op in ("+", "-", "*", "/", "%"):
            try:
                return arithmetic(op, left, right)
            except NetException as exception:
                raise self.error(exception) from None
        if bare in ("eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "ceq", "cne", "cgt", "cge", "clt", "cle",
                    "clike", "cnotlike", "ieq", "ine", "igt", "ige", "ilt", "ile", "ilike", "inotlike"):
            try:
                return compare(bare, left, right)
            except NetException as exception:
                raise self.error(exception) from None
        if bare in ("contains", "notcontains", "ccontains", "cnotcontains", "icontains", "inotcontains"):
            return contains(bare, left, right)
        if bare in ("match", "notmatch", "cmatch", "cnotmatch", "imatch", "inotmatch"):
            return match(bare, left, right, scope.variables)
        if bare in ("replace", "creplace", "ireplace"):
            return replace(bare, left, right)
        if bare == "f":
            try:
                return format_operator(left, right)
            except NetException as exception:
                raise self.error(exception) from None
        if bare == "band":
            return to_int(left) & to_int(right)
        if bare == "bor":
            return to_int(left) | to_int(right)
        if bare == "xor":
            return to_bool(left) != to_bool(right)
        if bare == "join":
            return to_string(right).join(to_string(item) for item in enumerate_value(left))
        if bare in ("split", "csplit", "isplit"):
            import re as _re   # pylint: disable=import-outside-toplevel
            return _re.split(to_string(right), to_string(left), flags=0 if bare.startswith("c") else _re.I)
        if op == "..":
            start, end = to_int(left), to_int(right)
            step = 1 if end >= start else -1
            return list(range(start, end + step, step))
        raise self.unsupported(node, f"operator {op}")

    expr_logical_expression = _binary
    expr_bitwise_expression = _binary
    expr_comparison_expression = _binary
    expr_additive_expression = _binary
    expr_multiplicative_expression = _binary
    expr_format_expression = _binary
    expr_range_expression = _binary
    expr_logical_argument_expression = _binary
    expr_bitwise_argument_expression = _binary
    expr_comparison_argument_expression = _binary
    expr_additive_argument_expression = _binary
    expr_multiplicative_argument_expression = _binary
    expr_format_argument_expression = _binary
    expr_range_argument_expression = _binary

    def expr_array_literal_expression(self, node, scope):
        children = _children(node)
        items = [self.eval(child, scope) for child in children if child.type != ","]
        return [None if item is AUTOMATION_NULL else item for item in items]

    def expr_unary_expression(self, node, scope):
        named = _named(node)
        if len(named) == 1:
            return self.eval(named[0], scope)
        raise self.unsupported(node)

    def expr_expression_with_unary_operator(self, node, scope):
        children = _children(node)
        first = children[0]
        if first.type == "cast_expression" and len(children) == 1:
            return self.eval(first, scope)
        operator = self.text(first).strip().lower()
        operand = self.eval(children[-1], scope)
        if operator in ("-not", "!"):
            return not to_bool(operand)
        if operator == "-":
            return -to_number(operand)
        if operator == "+":
            return to_number(operand)
        if operator == ",":
            return [operand]
        if operator == "-bnot":
            return ~to_int(operand)
        if operator in ("++", "--"):
            target = self.unwrap(children[-1])
            value = to_number(operand) + (1 if operator == "++" else -1)
            self.set_variable(scope, self.variable_name(target), value)
            return value
        raise self.unsupported(node, f"unary operator {operator}")

    def expr_post_increment_expression(self, node, scope):
        target = self.unwrap(_named(node)[0])
        value = self.eval(target, scope)
        self.set_variable(scope, self.variable_name(target), to_number(value) + 1)
        return AUTOMATION_NULL

    def expr_post_decrement_expression(self, node, scope):
        target = self.unwrap(_named(node)[0])
        value = self.eval(target, scope)
        self.set_variable(scope, self.variable_name(target), to_number(value) - 1)
        return AUTOMATION_NULL

    def expr_pre_increment_expression(self, node, scope):
        target = self.unwrap(_named(node)[-1])
        value = to_number(self.eval(target, scope)) + 1
        self.set_variable(scope, self.variable_name(target), value)
        return value

    def expr_cast_expression(self, node, scope):
        literal = next(c for c in _named(node) if c.type == "type_literal")
        operand_node = _named(node)[-1]
        value = self.eval(operand_node, scope)
        return self.cast(self.type_literal_name(literal), value, node)

    def cast(self, name: str, value, node):
        lowered = name.lower()
        if lowered.startswith("system.") and lowered[7:] in CASTS:
            lowered = lowered[7:]
        if value is AUTOMATION_NULL:
            value = None
        converter = CASTS.get(lowered)
        if converter is None:
            raise self.unsupported(node, f"cast to [{name}]")
        try:
            return converter(value)
        except NetException as exception:
            raise self.error(exception, "InvalidArgument") from None
        except (ValueError, TypeError, OverflowError):
            raise self.error(RuntimeException(f'Cannot convert value "{to_string(value)}" to type "{name}".'),
                             "InvalidArgument") from None

    def type_literal_name(self, node) -> str:
        found = _TYPE_NAMES.get(node.id)
        if found is None:
            spec = next(c for c in _named(node) if c.type in ("type_spec", "type_name"))
            found = _TYPE_NAMES[node.id] = self.text(spec).strip()
        return found

    def expr_type_literal(self, node, scope):
        name = self.type_literal_name(node)
        static = self.types.get(name.lower()) or self.types.get("system." + name.lower())
        return TypeRef(name, static)

    def expr_variable(self, node, scope):
        name = self.variable_name(node)
        if ":" not in name:
            # The common case: a plain variable, looked up through the scope chain.
            while scope is not None:
                variables = scope.variables
                if name in variables:
                    return variables[name]
                scope = scope.parent
            if self.text(node).startswith("@"):
                raise self.unsupported(node, "splatting outside a command")
            return None
        return self.lookup(name, scope)

    def expr_path_command_name(self, node, scope):
        named = _named(node)
        if len(named) == 1 and named[0].type == "variable":
            return self.eval(named[0], scope)
        raise self.unsupported(node, "a command path")

    def expr_generic_token(self, node, scope):
        """A bareword command argument (New-Object System.Text.StringBuilder) is a string."""
        return self.text(node)

    def expr_integer_literal(self, node, scope):
        text = self.text(node).lower()
        multiplier = 1
        for suffix, factor in (("kb", 1024), ("mb", 1024 ** 2), ("gb", 1024 ** 3)):
            if text.endswith(suffix):
                text, multiplier = text[:-2], factor
        if text.endswith("l"):
            text = text[:-1]
        return (int(text, 16) if text.startswith("0x") else int(text)) * multiplier

    def expr_real_literal(self, node, scope):
        return float(self.text(node).rstrip("dD"))

    def expr_string_literal(self, node, scope):
        inner = _named(node)[0] if _named(node) else node
        if inner.type in ("verbatim_string_characters",):
            text = self.text(inner)
            return text[1:-1].replace("''", "'")
        if inner.type == "expandable_string_literal":
            return self.expand(inner, scope)
        if inner.type in ("verbatim_here_string_characters",):
            text = self.text(inner)
            return text[text.index("\n") + 1:text.rindex("\n")].replace("\r", "")
        if inner.type == "expandable_here_string_literal":
            return self.expand(inner, scope, here=True)
        raise self.unsupported(node)

    def expand(self, node, scope, here: bool = False) -> str:
        raw = self.source[node.start_byte:node.end_byte]
        start = node.start_byte
        if here:
            body_start = raw.index(b"\n") + 1
            body_end = raw.rindex(b"\n")
        else:
            body_start, body_end = 1, len(raw) - 1
        parts = []
        cursor = start + body_start
        end = start + body_end
        for child in node.named_children:
            parts.append(self._unescape(self.source[cursor:child.start_byte].decode("utf-8"), here))
            if child.type == "variable":
                parts.append(to_string(self.lookup(self.variable_name(child), scope)))
            elif child.type == "sub_expression":
                out: list = []
                statements = next((c for c in _named(child) if c.type == "statement_list"), None)
                if statements is not None:
                    self.exec_block(statements, scope, out)
                parts.append(to_string(out[0] if len(out) == 1 else out))
            else:
                raise self.unsupported(child, "in an expandable string")
            cursor = child.end_byte
        parts.append(self._unescape(self.source[cursor:end].decode("utf-8"), here))
        return "".join(parts).replace("\r\n", "\n") if here else "".join(parts)

    @staticmethod
    def _unescape(text: str, here: bool) -> str:
        escapes = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
                   "'": "'", '"': '"', "`": "`", "$": "$"}
        out = []
        index = 0
        while index < len(text):
            char = text[index]
            if char == "`" and index + 1 < len(text):
                out.append(escapes.get(text[index + 1], text[index + 1]))
                index += 2
                continue
            if char == '"' and not here and text[index:index + 2] == '""':
                out.append('"')
                index += 2
                continue
            out.append(char)
            index += 1
        return "".join(out)

    def expr_parenthesized_expression(self, node, scope):
        inner = next(c for c in _named(node) if c.type == "pipeline")
        return self.eval_pipeline_value(inner, scope)

    def expr_sub_expression(self, node, scope):
        out: list = []
        statements = next((c for c in _named(node) if c.type == "statement_list"), None)
        if statements is not None:
            self.exec_block(statements, scope, out)
        if not out:
            return AUTOMATION_NULL
        return out[0] if len(out) == 1 else out

    def expr_array_expression(self, node, scope):
        out: list = []
        statements = next((c for c in _named(node) if c.type == "statement_list"), None)
        if statements is not None:
            self.exec_block(statements, scope, out)
        return out

    def expr_hash_literal_expression(self, node, scope):
        table = Hashtable()
        body = next((c for c in _named(node) if c.type == "hash_literal_body"), None)
        for entry in (_named(body) if body else []):
            key_node = next(c for c in _named(entry) if c.type == "key_expression")
            key_inner = _named(key_node)[0]
            key = self.text(key_inner) if key_inner.type == "simple_name" else self.eval(key_inner, scope)
            value_node = next(c for c in _named(entry) if c.type in ("pipeline", "statement"))
            value = self.eval_pipeline_value(value_node, scope)
            table.Add(key, None if value is AUTOMATION_NULL else value)
        return table

    def expr_script_block_expression(self, node, scope):
        block = next(c for c in _named(node) if c.type == "script_block")
        text = self.text(node)[1:-1]
        return ScriptBlock(block, self.source, text)

    def member_parts(self, node) -> tuple[t.Any, str]:
        named = _named(node)
        owner = named[0]
        member = next(c for c in named if c.type == "member_name")
        name_node = _named(member)[0] if _named(member) else member
        if name_node.type == "variable":
            # $object.$property: the member named by the variable's value.
            return owner, to_string(self.lookup(self.variable_name(name_node), self._scope_for_dynamic))
        if name_node.type != "simple_name":
            raise self.unsupported(node, "dynamic member name")
        return owner, self.text(name_node).strip()

    def expr_member_access(self, node, scope):
        owner_node, member = self.member_parts(node)
        static = any(child.type == "::" for child in node.children)
        owner = self.eval(owner_node, scope)
        if static:
            return self.static_member(owner, member, node)
        return self.get_member(owner, member, node)

    def static_member(self, owner, member, node):
        if not isinstance(owner, TypeRef) or owner.static is None:
            raise self.unsupported(node, f"static member of [{getattr(owner, 'name', owner)}]")
        attribute = self.find_attribute(owner.static, member)
        if attribute is None:
            raise self.unsupported(node, f"[{owner.name}]::{member}")
        return getattr(owner.static, attribute)

    def find_attribute(self, owner, member: str) -> str | None:
        lowered = member.lower()
        for name in dir(owner):
            if name.lower() == lowered and not name.startswith("_"):
                return name
        return None

    def get_member(self, owner, member, node):
        lowered = member.lower()
        if owner is None or owner is AUTOMATION_NULL:
            return None
        if isinstance(owner, Hashtable):
            if lowered in ("keys", "values", "count") and member not in owner:
                return getattr(owner, {"keys": "Keys", "values": "Values", "count": "Count"}[lowered])
            return owner[member]
        if isinstance(owner, str):
            if lowered == "length":
                return len(owner)
            raise self.unsupported(node, f"string member {member}")
        if isinstance(owner, (list, bytes, bytearray)):
            # A byte[] (what Convert.FromBase64String and ComputeHash return) is an array like any other.
            if lowered in ("count", "length"):
                return len(owner)
            # PowerShell 2.0 has no member enumeration: other members of an array are $null.
            return None
        if isinstance(owner, datetime.datetime):
            if lowered in ("year", "month", "day", "hour", "minute", "second"):
                return getattr(owner, lowered)
            raise self.unsupported(node, f"datetime member {member}")
        if isinstance(owner, (int, float, bool)):
            return None
        attribute = self.find_attribute(owner, member)
        if attribute is None:
            if isinstance(owner, (NetObject, NetException, ErrorRecord)):
                return None
            raise self.unsupported(node, f"member {member} of {type_name(owner)}")
        try:
            return getattr(owner, attribute)
        except NetException as exception:
            # Exception getting "X": a property getter that throws (e.g. a computed WMI property).
            wrapped = RuntimeException(f'Exception getting "{member}": "{exception.message}"', inner=exception)
            wrapped.type_name = "System.Management.Automation.GetValueInvocationException"
            wrapped.bases = ("System.Management.Automation.RuntimeException",)
            raise self.error(wrapped) from None

    def expr_invokation_expression(self, node, scope):
        named = _named(node)
        owner_node = named[0]
        member_node = next(c for c in named if c.type == "member_name")
        member = self.text(member_node).strip()
        arguments_node = next(c for c in named if c.type == "argument_list")
        arguments = []
        expression_list = next((c for c in _named(arguments_node) if c.type == "argument_expression_list"), None)
        for argument in (_named(expression_list) if expression_list else []):
            value = self.eval(argument, scope)
            arguments.append(None if value is AUTOMATION_NULL else value)
        owner = self.eval(owner_node, scope)
        static = any(child.type == "::" for child in node.children)
        if static:
            if not isinstance(owner, TypeRef) or owner.static is None:
                raise self.unsupported(node, f"static method of [{getattr(owner, 'name', owner)}]")
            target = owner.static
        else:
            target = owner
        return self.call_method(target, member, arguments, node, scope)

    def call_method(self, target, member, arguments, node, scope):
        lowered = member.lower()
        if target is None or target is AUTOMATION_NULL:
            raise self.error(RuntimeException("You cannot call a method on a null-valued expression."),
                             "InvalidOperation")
        builtin = BUILTIN_METHODS.get((type(target).__name__ if not isinstance(target, Char) else "str", lowered))
        if builtin is None and isinstance(target, list) and not isinstance(target, ArrayList):
            builtin = BUILTIN_METHODS.get(("list", lowered))
        if builtin is None and isinstance(target, bool):
            builtin = BUILTIN_METHODS.get(("bool", lowered))
        if builtin is not None:
            try:
                return builtin(self, target, *arguments)
            except NetException as exception:
                raise self._method_error(member, arguments, exception) from None
        attribute = self.find_attribute(target, member)
        if attribute is None:
            raise self.unsupported(node, f"method {member} of {type_name(target)}")
        method = getattr(target, attribute)
        try:
            result = method(self, scope, *arguments) if getattr(method, "wants_interpreter", False) else method(*arguments)
        except NetException as exception:
            raise self._method_error(member, arguments, exception) from None
        # A void method (and a method returning null) writes nothing to the pipeline.
        return AUTOMATION_NULL if result is None else result

    def _method_error(self, member, arguments, exception) -> ScriptError:
        """about_Try_Catch_Finally: an exception thrown by a .NET method arrives wrapped in
        MethodInvocationException, the original as its InnerException."""
        if isinstance(exception, RuntimeException) and type(exception) is not RuntimeException:  # pylint: disable=unidiomatic-typecheck
            return self.error(exception)
        wrapped = MethodInvocationException(
            f'Exception calling "{member}" with "{len(arguments)}" argument(s): "{exception.message}"', inner=exception)
        return self.error(wrapped)

    def expr_element_access(self, node, scope):
        named = _named(node)
        owner = self.eval(named[0], scope)
        key = self.eval(named[1], scope)
        if owner is None or owner is AUTOMATION_NULL:
            raise self.error(RuntimeException("Cannot index into a null array."), "InvalidOperation")
        if isinstance(owner, dict):
            return owner[key]
        if isinstance(owner, (list, str)):
            if isinstance(key, list):
                return [self._index(owner, to_int(k)) for k in key]
            return self._index(owner, to_int(key))
        raise self.unsupported(node, "indexing " + type_name(owner))

    @staticmethod
    def _index(owner, index):
        try:
            value = owner[index]
        except IndexError:
            return None
        return Char(value) if isinstance(owner, str) else value


# Handlers by node type, looked up once per evaluation instead of by attribute name.
_EXPR = {name[5:]: member for name, member in vars(Interpreter).items() if name.startswith("expr_")}
_STMT = {name[5:]: member for name, member in vars(Interpreter).items() if name.startswith("stmt_")}


# --------------------------------------------------------------------------------------------- casts
def _cast_int(value):
    if isinstance(value, Char):
        return ord(value)
    number = to_int(value)
    if not -2**31 <= number < 2**31:
        raise RuntimeException(f'Cannot convert value "{number}" to type "System.Int32". Error: "Value was either too '
                               'large or too small for an Int32."')
    return number


def _refuse_hashtable(value):
    raise RuntimeException(f'Cannot convert the "{to_string(value)}" value to type "System.Collections.Hashtable".')


def _cast_string_array(value):
    return [to_string(item) for item in enumerate_value(value)] if value is not None else None


CASTS: dict[str, t.Callable[[t.Any], t.Any]] = {
    "int": _cast_int, "int32": _cast_int, "long": to_int, "int64": to_int,
    "double": lambda v: float(to_number(v)),
    "string": to_string,   # [string]$null is the empty string
    "bool": to_bool, "boolean": to_bool,
    "void": lambda v: AUTOMATION_NULL,
    "string[]": _cast_string_array,
    "object[]": lambda v: enumerate_value(v) if v is not None else None,
    "array": lambda v: enumerate_value(v) if v is not None else None,
    "char": lambda v: Char(chr(to_int(v))) if not isinstance(v, str) else Char(v),
    "hashtable": lambda v: v if isinstance(v, Hashtable) else _refuse_hashtable(v),
}


# --------------------------------------------------------------------------------------------- .NET members of built-in values
def _str_tostring(interp, value, *args):
    return str(value)


def _number_tostring(interp, value, *args):
    from emulator.pwsh.runtime import format_value   # pylint: disable=import-outside-toplevel
    spec = args[0] if args and isinstance(args[0], str) else None
    return format_value(value, spec) if spec else to_string(value)


def _datetime_tostring(interp, value, *args):
    from emulator.pwsh.runtime import dotnet_datetime_format   # pylint: disable=import-outside-toplevel
    if args and isinstance(args[0], str):
        return dotnet_datetime_format(value, args[0])
    return to_string(value)


BUILTIN_METHODS: dict[tuple[str, str], t.Callable] = {
    ("str", "tostring"): _str_tostring,
    ("str", "tochararray"): lambda i, v: [Char(c) for c in v],
    ("str", "tolower"): lambda i, v, *a: v.lower(),
    ("str", "toupper"): lambda i, v, *a: v.upper(),
    ("str", "tolowerinvariant"): lambda i, v: v.lower(),
    ("str", "toupperinvariant"): lambda i, v: v.upper(),
    ("str", "trim"): lambda i, v, *a: v.strip("".join(a)) if a else v.strip(),
    ("str", "trimend"): lambda i, v, *a: v.rstrip("".join(a)) if a else v.rstrip(),
    ("str", "trimstart"): lambda i, v, *a: v.lstrip("".join(a)) if a else v.lstrip(),
    ("str", "startswith"): lambda i, v, s, *a: v.startswith(to_string(s)),
    ("str", "endswith"): lambda i, v, s, *a: v.endswith(to_string(s)),
    ("str", "contains"): lambda i, v, s: to_string(s) in v,
    ("str", "indexof"): lambda i, v, s, *a: v.find(to_string(s)),
    ("str", "replace"): lambda i, v, a, b: v.replace(to_string(a), to_string(b)),
    ("str", "substring"): lambda i, v, start, *length: v[to_int(start):to_int(start) + to_int(length[0])] if length
    else v[to_int(start):],
    ("str", "split"): lambda i, v, *seps: _split(v, seps),
    ("str", "padleft"): lambda i, v, n, c=" ": v.rjust(to_int(n), to_string(c)),
    ("int", "tostring"): _number_tostring,
    ("float", "tostring"): _number_tostring,
    ("bool", "tostring"): lambda i, v, *a: to_string(v),
    ("datetime", "tostring"): _datetime_tostring,
    ("datetime", "touniversaltime"): lambda i, v: v.astimezone(datetime.timezone.utc) if v.tzinfo else v,
    ("list", "tostring"): lambda i, v, *a: "System.Object[]",
    ("Hashtable", "add"): lambda i, v, k, x: v.Add(k, x),
    ("Hashtable", "containskey"): lambda i, v, k: k in v,
    ("Hashtable", "remove"): lambda i, v, k: v.Remove(k),
    ("Hashtable", "tostring"): lambda i, v: "System.Collections.Hashtable",
    ("ArrayList", "add"): lambda i, v, x: v.Add(x),
    ("ArrayList", "toarray"): lambda i, v: v.ToArray(),
}


def _split(text, separators):
    chars = "".join(to_string(s) for s in separators)
    if not chars:
        return text.split()
    import re as _re   # pylint: disable=import-outside-toplevel
    return _re.split("[" + _re.escape(chars) + "]", text)


# --------------------------------------------------------------------------------------------- static types
class _StringStatics:
    @staticmethod
    def Join(separator, values):  # noqa: N802
        return to_string(separator).join(to_string(v) for v in enumerate_value(values))

    @staticmethod
    def IsNullOrEmpty(value):  # noqa: N802
        return value is None or value == ""

    Empty = ""


class _DateTimeStatics:
    @property
    def UtcNow(self):  # noqa: N802
        return datetime.datetime.now(datetime.timezone.utc)

    @property
    def Now(self):  # noqa: N802
        return datetime.datetime.now()


class _CultureInfoStatics:
    InvariantCulture = NetObject.of(Name="")


class _EnvironmentStatics:
    NewLine = "\r\n"


class _BitConverterStatics:
    @staticmethod
    def ToString(value):  # noqa: N802
        return "-".join(f"{byte:02X}" for byte in bytes(value))


class _ScriptBlockFactory:
    """[ScriptBlock]::Create(text): parsed by the interpreter that runs it."""

    def __init__(self, interpreter: "Interpreter"):
        self.interpreter = interpreter

    def Create(self, text):  # noqa: N802
        parsed = self.interpreter.parse(to_string(text))
        return ScriptBlock(parsed.root, parsed.data, to_string(text))


class _MathStatics:
    @staticmethod
    def Min(a, b):  # noqa: N802
        return min(a, b)

    @staticmethod
    def Max(a, b):  # noqa: N802
        return max(a, b)


BUILTIN_TYPES: dict[str, t.Any] = {
    "string": _StringStatics(), "system.string": _StringStatics(),
    "datetime": _DateTimeStatics(), "system.datetime": _DateTimeStatics(),
    "system.globalization.cultureinfo": _CultureInfoStatics(),
    "environment": _EnvironmentStatics(), "system.environment": _EnvironmentStatics(),
    "system.bitconverter": _BitConverterStatics(),
    "math": _MathStatics(), "system.math": _MathStatics(),
    "int": None, "long": None, "bool": None, "void": None,
}


# --------------------------------------------------------------------------------------------- cmdlets
def _write_output(interp, positional, parameters, pipeline_input, scope):
    out = []
    for value in positional:
        out.extend(enumerate_value(value))
    return out + list(pipeline_input)


def _select_object(interp, positional, parameters, pipeline_input, scope):
    items = list(pipeline_input)
    if "last" in parameters:
        count = to_int(parameters.pop("last"))
        items = items[-count:] if count else []
    if "first" in parameters:
        items = items[:to_int(parameters.pop("first"))]
    if parameters or positional:
        raise UnsupportedConstruct(f"Select-Object {sorted(parameters)}")
    return items


def _out_null(interp, positional, parameters, pipeline_input, scope):
    return []


def _new_object(interp, positional, parameters, pipeline_input, scope):
    com_object = parameters.pop("comobject", None)
    if com_object is not None:
        factory = getattr(interp.host, "new_object", None)
        made = factory(interp, "", [], com_object=to_string(com_object)) if factory else None
        if made is None:
            raise UnsupportedConstruct(f"New-Object -ComObject {com_object}")
        return [made]
    type_text = to_string(parameters.pop("typename", None) or (positional.pop(0) if positional else ""))
    arguments = enumerate_value(parameters.pop("argumentlist", None) or (positional[0] if positional else []))
    lowered = type_text.lower()
    if lowered in ("system.text.stringbuilder", "text.stringbuilder"):
        return [StringBuilder(*arguments)]
    if lowered in ("system.collections.arraylist", "collections.arraylist"):
        return [ArrayList()]
    if lowered in ("system.collections.hashtable", "hashtable"):
        return [Hashtable()]
    factory = getattr(interp.host, "new_object", None)
    if factory is not None:
        made = factory(interp, type_text, arguments)
        if made is not None:
            return [made]
    raise UnsupportedConstruct(f"New-Object {type_text}")


BUILTIN_CMDLETS: dict[str, t.Callable] = {
    "write-output": _write_output,
    "select-object": _select_object,
    "out-null": _out_null,
    "new-object": _new_object,
}
