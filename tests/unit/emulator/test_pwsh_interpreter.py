"""The PowerShell interpreter the emulated hosts run scripts with: one test per language rule, each rule
with its source (PowerShell 2.0 semantics where versions differ)."""

from __future__ import annotations

import json

import pytest

from emulator.pwsh.interpreter import Interpreter, ParseError
from emulator.pwsh.runtime import ScriptError, UnsupportedConstruct


def run(script: str, *input_items, version=(2, 0)):
    return Interpreter(version=version).run(script, input_items)


def value(script: str, **kwargs):
    out = run(script, **kwargs)
    assert len(out) == 1, out
    return out[0]


# about_Comparison_Operators: a collection on the left filters; a scalar gives a Boolean; the right operand
# is converted to the left operand's type; string comparison is case-insensitive unless c-prefixed.
@pytest.mark.parametrize("script, expected", [
    ("(1, 2, 3, 2) -eq 2", [2, 2]),
    ("@(1, 2, 3) -gt 1", [2, 3]),
    ("'a' -eq 'A'", True),
    ("'a' -ceq 'A'", False),
    ("1 -eq '1'", True),
    ("'1' -eq 1", True),
    ("'10' -lt 9", True),          # string comparison: the left operand is a string
    ("10 -lt '9'", False),         # numeric comparison: the left operand is a number
    ("$null -eq $null", True),
    ("$null -eq @()", False),
    ("@($null, 1) -eq $null", [None]),
    ("'Package_for_KB5006714' -like 'package_for_kb*'", True),
    ("'abc' -clike 'A*'", False),
    ("'abc' -notlike 'x*'", True),
])
def test_comparison(script, expected):
    assert run(f"$r = {script}; ,$r")[0] == expected


# about_Arithmetic_Operators: the left operand's type decides what + does.
@pytest.mark.parametrize("script, expected", [
    ("'a' + 1", "a1"),
    ("1 + '2'", 3),
    ("@(1) + 2", [1, 2]),
    ("'ab' * 2", "abab"),
    ("7 / 2", 3.5),
    ("6 / 3", 2),
])
def test_addition_follows_the_left_operand(script, expected):
    assert run(f"$r = {script}; ,$r")[0] == expected


def test_a_function_returns_everything_it_writes_unrolled():
    # about_Return: one value comes back as itself, several as an array, none as $null.
    out = run("function One { return @(1) }; function Two { 1; 2 }; function None { }\n"
              "$a = One; $b = Two; $c = None\n"
              "$a -is [int]; $b.Count; $null -eq $c")
    assert out == [True, 2, True]


def test_an_expression_assigned_keeps_its_array():
    # about_Assignment_Operators: $x = @(1) is an array of one; only pipeline output is unrolled.
    assert run("$x = @(1); $x.Count; $y = @(); $y.Count; $h = @{ items = @() }; $h.items.Count") == [1, 0, 0]


def test_no_member_enumeration_on_powershell_2():
    # Member enumeration ($array.Name) came with PowerShell 3.0 ("What's New in Windows PowerShell 3.0").
    assert run("$a = @(@{ n = 1 }, @{ n = 2 }); $null -eq $a.n; $a.Count") == [True, 2]


def test_hashtable_keys_are_case_insensitive():
    # about_Hash_Tables: keys are compared without regard to case.
    assert run("$h = @{ Name = 1 }; $h.name; $h['NAME']; $h.ContainsKey('nAmE')") == [1, 1, True]


def test_hashtable_add_of_an_existing_key_throws():
    with pytest.raises(ScriptError, match="Item has already been added"):
        run("$h = @{ a = 1 }; $h.Add('A', 2)")


def test_void_cast_and_void_methods_write_nothing():
    out = run("$b = New-Object System.Text.StringBuilder; [void]$b.Append('x'); $b.Append('y') | Out-Null\n"
              "$l = New-Object System.Collections.ArrayList; [void]$l.Add(1); $b.ToString()")
    assert out == ["xy"]


def test_arraylist_add_writes_its_index_unless_discarded():
    assert run("$l = New-Object System.Collections.ArrayList; $l.Add('a'); $l.Add('b')") == [0, 1]


def test_strings_expand_variables_subexpressions_and_escapes():
    assert value('$n = "w"; "a`t$n $($n.Length + 1) ${n}`$"') == "a\tw 2 w$"
    assert value("'no $expansion ''here'''") == "no $expansion 'here'"


def test_format_operator_is_composite_formatting():
    assert value("'{0:x4}|{1,3}|{2}' -f 255, 'a', $true") == "00ff|  a|True"


@pytest.mark.parametrize("script, expected", [
    ("switch ('B') { 'a' { 1 } 'b' { 2 } default { 3 } }", [2]),
    ("switch ('z') { 'a' { 1 } default { 3 } }", [3]),
    ("switch (2) { 1 { 'one' } 2 { 'two' } }", ["two"]),
    ("switch ('a') { 'a' { 1 } 'a' { 2 } }", [1, 2]),         # every matching clause runs (about_Switch)
    ("switch ('a') { 'a' { 1; break } 'a' { 2 } }", [1]),
])
def test_switch(script, expected):
    assert run(script) == expected


def test_try_catch_finally_and_the_error_record():
    out = run("try { throw 'boom' } catch { $_.Exception.Message; $_ -is [object] } finally { 'done' }")
    assert out[0] == "boom" and out[-1] == "done"


def test_an_uncaught_throw_stops_the_script():
    with pytest.raises(ScriptError, match="^boom$"):
        run("'before'; throw 'boom'; 'after'")


def test_a_method_exception_arrives_wrapped():
    # about_Try_Catch_Finally: exceptions thrown by .NET methods are MethodInvocationException, the original
    # as InnerException.
    out = run("try { 'abc'.Substring(1, 2); [Environment]::NewLine; @{}.Add(1, 1); @{ a = 1 }.Add('a', 2) }"
              " catch { $_.Exception.GetType().FullName; $_.Exception -is [System.Management.Automation.RuntimeException] }")
    assert out[-2:] == ["System.Management.Automation.MethodInvocationException", True]


def test_loops_break_and_continue():
    assert run("foreach ($i in @(1, 2, 3, 4, 5)) { if ($i -eq 2) { continue }; if ($i -eq 4) { break }; $i }") == [1, 3]
    assert run("for ($i = 0; $i -lt 3; $i++) { $i }") == [0, 1, 2]
    assert run("$i = 0; while ($true) { $i++; if ($i -ge 3) { break } }; $i") == [3]


def test_functions_bind_named_positional_and_typed_parameters():
    out = run("function F { param($Text, [int]$Depth = 0) $Text + ':' + $Depth }\n"
              "F 'a'; F -Text 'b' -Depth '2'; F 'c' 3; F -D 4 -T 'd'")
    assert out == ["a:0", "b:2", "c:3", "d:4"]


def test_scopes_are_dynamic_and_assignments_local():
    # about_Scopes: a child scope reads the parent's variables; assigning creates a local one.
    assert run("$x = 1; function F { $x; $x = 2; $x }; F; $x") == [1, 2, 1]


def test_input_enumerates_the_lines_given_on_stdin():
    assert run("@(foreach ($line in $input) { [string]$line }).Count", "a", "b") == [2]


def test_dot_sourcing_keeps_definitions_in_the_callers_scope():
    assert run("$lib = { function G { 'g' } }; . $lib; G") == ["g"]


def test_scriptblock_create_and_call_operator():
    assert run("& ([ScriptBlock]::Create('param($a) $a * 2')) 21") == [42]


def test_pipeline_select_object_last():
    assert run("@(1, 2, 3) | Select-Object -Last 1") == [3]


def test_casts():
    assert run("[int]'0x10'; [int]2.5; [int]3.5; [string]$null -eq ''; [bool]'false'; [int][char]'A'") == \
        [16, 2, 4, True, True, 65]


def test_numbers_from_strings_use_ascii_digits_only():
    # .NET parses with the invariant culture: a superscript two is not a digit.
    with pytest.raises(ScriptError, match="Input string was not in a correct format"):
        run("[int]'2\u00b2'")


def test_unknown_commands_and_constructs_fail_loudly():
    with pytest.raises(ScriptError, match="is not recognized as the name of a cmdlet"):
        run("Get-Nothing")
    with pytest.raises(UnsupportedConstruct):
        run("[System.Net.WebClient]::new()")
    with pytest.raises(ParseError):
        run("if ($true) {")


def test_the_runners_json_writer_escapes_what_json_needs():
    # The collection's own JSON writer, run as PowerShell would run it.
    import pathlib
    runner = (pathlib.Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils" / "_acs_runner.ps1").read_text()
    out = run(runner + "\nConvertTo-AcsJson @{ text = 'q\"b\\s' + [char]10 + [char]233; list = @(1, $true, $null); n = -1 }")
    assert json.loads(out[-1]) == {"text": 'q"b\\s\n\u00e9', "list": [1, True, None], "n": -1}
    assert out[-1].isascii()


# ---------------------------------------------------------------------------------------------------------------
# Programs (emulator.pwsh.native): each rule's source is in that module's docstring.
class _Programs:
    """A host with one program, echo.exe, that writes its arguments one a line and exits with the code its
    first argument names."""

    def __init__(self):
        self.calls = []
        self.native_commands = {"echo.exe": self.echo, "gone.exe": self.gone}

    def echo(self, binding, arguments):
        from emulator.pwsh.native import NativeResult   # pylint: disable=import-outside-toplevel
        self.calls.append(arguments)
        code = int(arguments[0]) if arguments and arguments[0].lstrip("-").isdigit() else 0
        return NativeResult(code, [*arguments, ""], ["to stderr"])

    @staticmethod
    def gone(binding, arguments):
        from emulator.pwsh.native import NativeNotFound   # pylint: disable=import-outside-toplevel
        raise NativeNotFound("gone.exe")

    def environment(self, name):
        return "C:\\Windows" if name.lower() == "systemroot" else None


def run_programs(script: str):
    host = _Programs()
    interpreter = Interpreter(host)
    return interpreter.run(script), host, interpreter


def test_a_program_writes_one_string_per_line_and_sets_lastexitcode():
    # Each stdout line is a string, empty lines included; $LASTEXITCODE and $? follow the exit code; stderr is
    # not pipeline output.
    out, host, interpreter = run_programs("$lines = echo 3 a; $LASTEXITCODE; $?; $lines.Count; $lines[2] -eq ''")
    assert out == [3, False, 3, True]
    assert host.calls == [["3", "a"]]
    assert interpreter.native_stderr == ["to stderr"]


def test_a_non_zero_exit_code_is_no_error_even_under_stop():
    out, _host, _interp = run_programs("$ErrorActionPreference = 'Stop'\n"
                                       "try { $null = echo.exe 5; 'went on' } catch { 'caught' }; $LASTEXITCODE")
    assert out == ["went on", 5]


def test_the_call_operator_runs_a_program_by_path_with_its_arguments_as_text():
    # & "<path>"; a quoted string passes its value, an array each element, -Name:value one argument.
    out, host, _interp = run_programs(
        '$cab = "C:\\t\\x y.cab"; $more = @("/quiet", "/norestart")\n'
        '$null = & "$env:SystemRoot\\System32\\echo.exe" /online "/packagepath:$cab" -F:* $more 0\n'
        '$null = & C:\\Windows\\System32\\ECHO.EXE 1; $LASTEXITCODE')
    assert host.calls == [["/online", "/packagepath:C:\\t\\x y.cab", "-F:*", "/quiet", "/norestart", "0"], ["1"]]
    assert out == [1]


def test_a_bare_name_finds_the_program_through_pathext():
    out, host, _interp = run_programs("$null = echo 0; $LASTEXITCODE")
    assert out == [0] and host.calls == [["0"]]


@pytest.mark.parametrize("script", ["gone.exe /x", "& 'C:\\Windows\\System32\\gone.exe'", "nosuchthing"])
def test_a_program_the_host_lacks_is_an_unknown_command(script):
    with pytest.raises(ScriptError) as raised:
        run_programs(script)
    assert raised.value.record.exception.type_name == "System.Management.Automation.CommandNotFoundException"


@pytest.mark.parametrize("script", ["unmodelled.exe /x", "& 'C:\\Tools\\echo.exe' 0", "echo /x:$a", "echo 0 2>&1"])
def test_what_the_emulator_does_not_model_fails_loudly(script):
    with pytest.raises(UnsupportedConstruct):
        run_programs(script)


def test_assigning_to_null_discards_and_true_is_constant():
    # about_Automatic_Variables: $null = <expression> discards the value; $true and $false are constants.
    assert run("$null = 5; $null -eq $null") == [True]
    with pytest.raises(ScriptError):
        run("$true = 5")
