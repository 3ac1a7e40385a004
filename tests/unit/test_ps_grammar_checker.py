"""The PowerShell 2.0 checker (tests/support/ps_grammar.py) and every script the collection ships.

No PowerShell runs here, so the checker is the only thing between a PowerShell 3.0+ construct and a
Windows 7 / Server 2008 R2 host: valid PowerShell 2.0 must pass untouched, each newer construct must be
named with the version that brought it, and comments or strings must never trip a rule.
"""

from __future__ import annotations

import base64
import dataclasses
import glob
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import ps_grammar
from support.ps_grammar import (
    CMD_EXE_MAX_COMMAND_LINE,
    RULES,
    Finding,
    check_powershell,
    encoded_command,
    encoded_command_length,
    iter_ps1_files,
)

REPO = Path(__file__).resolve().parents[2]


def rules_of(findings: list[Finding]) -> set[str]:
    return {finding.rule for finding in findings}


def describe(findings: list[Finding]) -> str:
    return "\n".join(finding.format("<snippet>") for finding in findings)


# -------------------------------------------------------------------------- valid PowerShell 2.0

VALID_PS2 = [
    (
        "function-param-block",
        """
function Get-Thing {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [ValidateNotNullOrEmpty()]
        [string]$Path,
        [ValidateSet('a', 'b')]
        [Alias('n')]
        [int]$Count = 3,
        [switch]$Force
    )
    begin { $acc = @() }
    process { $acc += $_ }
    end { return $acc }
}
""",
    ),
    ("function-short-params", "function Add($a, $b) { $a + $b }\nAdd 1 2"),
    ("filter", "filter Double { $_ * 2 }\n1..3 | Double"),
    ("scoped-functions", "function global:Foo { 1 }\nfunction script:Bar { 2 }"),
    ("nested-function", "function Outer { function Inner { 1 }; Inner }"),
    (
        "try-catch-finally",
        """
try {
    $x = 1 / $zero
} catch [System.DivideByZeroException] {
    Write-Error $_.Exception.Message
} catch {
    throw
} finally {
    $done = $true
}
""",
    ),
    (
        "trap",
        'trap { Write-Host "trapped: $_"; continue }\ntrap [System.Management.Automation.RuntimeException] { break }',
    ),
    ("throw", "throw \"bad thing\"\nthrow (New-Object System.ArgumentException 'x')"),
    ("foreach-range", "foreach ($i in 1..3) { $i }"),
    ("foreach-variable", "foreach ($l in $input) { $l }"),
    ("for", "for ($i = 0; $i -lt 10; $i++) { $i }"),
    ("while-assignment", "while (($line = $reader.ReadLine()) -ne $null) { $line }"),
    ("do-until", "do { $n++ } until ($n -ge 5)"),
    ("do-while", "do { $n++ } while ($n -lt 5)"),
    ("if-elseif-else", "if ($null -eq $x) { 'null' } elseif ($x -ne 1) { 'no' } else { 'yes' }"),
    ("if-multiline", "if ($x) {\n}\nelseif ($y) {\n}\nelse {\n}"),
    ("if-continued-condition", "if ($a -gt 1 -and\n    $b -lt 2) {\n    'yes'\n}"),
    ("keywords-any-case", "Function F { Param($a) Process { If ($a) { Return 1 } Else { Throw 'x' } } }"),
    ("switch-regex", "switch -regex ($line) {\n    '^a(\\d+)' { $matches[1]; break }\n    default { 'none' }\n}"),
    ("switch-wildcard", "switch -wildcard ($name) {\n    'foo*' { 1 }\n    '*bar' { 2 }\n}"),
    ("switch-script-block-condition", "$r = switch ($v) {\n    { $_ -gt 5 } { 'big' }\n    default { 'small' }\n}"),
    (
        "labels",
        """
:outer foreach ($a in 1..3) {
    foreach ($b in 1..3) {
        if ($b -eq 2) { continue outer }
        if ($a -eq 3) { break outer }
    }
}
""",
    ),
    ("here-string-verbatim", "$s = @'\nliteral $not expanded\n'@"),
    ("here-string-expandable", '$s = @"\nexpanded $var and $($x.Name)\n"@'),
    ("here-string-nested", '$x = @"\nnested $(@"\ninner\n"@)\n"@'),
    (
        "add-type-here-string",
        'Add-Type -TypeDefinition @"\nusing System;\npublic class Foo { public static int Bar() { return 1; } }\n"@',
    ),
    ("subexpressions", '$a = "value: $(Get-Date)"\n$s = "Path: $($item.FullName) size $($item.Length / 1kb) KB"'),
    (
        "static-calls",
        "$t = [System.IO.File]::ReadAllText($path)\n$e = [string]::IsNullOrEmpty($s)\n$m = [math]::Max(1, 2)",
    ),
    ("scriptblock-create", "$sb = [ScriptBlock]::Create($s)\n& $sb\n. $sb\n$r = $sb.Invoke(3)"),
    ("casts", "$n = [int]'42'\n$d = [datetime]$str\n[int]$x = '5'\n[string[]]$a = 'x'\n$b = [byte[]](1, 2, 3)"),
    (
        "generic-type-name",
        "$l = New-Object 'System.Collections.Generic.List[string]'\n$t = [System.Collections.Generic.Dictionary[string,int]]",
    ),
    ("format-operator", "$msg = '{0} of {1}' -f $i, $n\n$s = \"{0:N2}\" -f 1.234"),
    ("hash-tables", "$h = @{ Name = 'x'; 'Value' = 2; 3 = 'three' }\n$n = @{\n    A = 1\n    B = @{ C = 2 }\n}"),
    ("arrays", "$a = @(1, 2, 3)\n$e = @()\n$b = ,1\n$c = 1,2,3\n$x = @(\n  'a',\n  'b'\n)"),
    ("splatting", "$p = @{ Path = $x; Force = $true }\nRemove-Item @p\nGet-Thing @args -Force"),
    ("escapes", '$s = "line`nnext`0null`"quoted`t"\n$y = "esc `$notvar"\n$q = \'it\'\'s\''),
    ("comments", "<# block\ncomment #>\n# line comment\n$x = 1 # trailing"),
    (
        "comment-based-help",
        "function Test-It {\n    <#\n    .SYNOPSIS\n    Something.\n    #>\n    param()\n    'ok'\n}",
    ),
    (
        "pipelines",
        "Get-ChildItem | Where-Object { $_.Length -gt 100 } | ForEach-Object { $_.Name } | Select-Object -First 1",
    ),
    ("pipeline-aliases", "Get-ChildItem | ? { $_ } | % { $_ }"),
    ("pipeline-continued", "Get-ChildItem |\n    Where-Object { $_ } |\n    ForEach-Object { $_ }"),
    ("foreach-object-blocks", "$o = 1 | ForEach-Object -Process { $_ } -Begin { 0 } -End { 2 }"),
    ("input-variable", "foreach ($l in $input) { $l }\n$input | ForEach-Object { $_ }"),
    ("call-operators", "& $sb 1 2\n& 'C:\\x y\\tool.exe' /arg\n$x = &{ 1 }\n. .\\lib.ps1"),
    (
        "redirection",
        "cmd /c dir 2>&1\nGet-Thing > $null\nGet-Thing 2> $null\nGet-Thing >> log.txt\nGet-Thing 2>> err.txt",
    ),
    (
        "wmi",
        "$os = Get-WmiObject -Class Win32_OperatingSystem -ComputerName .\nGet-WmiObject Win32_Service -Filter \"Name='WinRM'\"",
    ),
    (
        "registry-view",
        "$k = [Microsoft.Win32.RegistryKey]::OpenBaseKey("
        "[Microsoft.Win32.RegistryHive]::LocalMachine, [Microsoft.Win32.RegistryView]::Registry64)",
    ),
    ("bitwise", "$f = $flags -band 0x10\n$g = $flags -bor 4\n$h = $a -bxor $b\n$i = -bnot $a"),
    ("type-operators", "$n = $v -as [int]\n$b = $v -is [string]\n$c = $v -isnot [int]"),
    (
        "comparison",
        "$r = $name -like 'a*'\n$m = $name -match '^\\d+$'\n$c = $list -contains 'x'\n$d = $list -notcontains 'x'",
    ),
    ("case-sensitive-comparison", "$a -ceq $b\n$a -cne $b\n$a -clike $b\n$a -notlike $b\n$a -notmatch $b\n$a -ieq $b"),
    ("join-split", "$j = -join $chars\n$j = $list -join ','\n$p = -split $line\n$p = $line -split ','"),
    ("replace", "$x = $y -replace '\\\\', '/'\n$z = $a -creplace 'a', 'b'"),
    ("string-multiplication", "$line = '-' * 40\nWrite-Host ('=' * 20)"),
    ("logical", "$x = !$true\n$y = -not $false\n$z = $a -and $b -or -not $c\n$w = $a -xor $b"),
    ("assignment-operators", "$x++\n$x--\n$x += 1\n$x -= 1\n$x *= 2\n$x /= 2\n$x %= 2\n$a, $b = 1, 2\n$x = $y = 3"),
    ("numbers", "$x = 0x1F\n$y = 1kb\n$z = 1.5e3\n$m = 10MB\n$n = -1\n$l = 5L"),
    ("number-suffix-case", "$kb = $size / 1KB\n$ok = ($s -lt 64KB) -or ($s -ge 4GB)\n$t = $a / 0X1F + $b / 1E3"),
    ("strict-mode", "Set-StrictMode -Version 2.0\n$ErrorActionPreference = 'Stop'"),
    ("requires-version-2", "#requires -Version 2.0\n$x = 1"),
    (
        "members",
        "$x = $a.Length\n$y = $a.Substring(0, 2).ToUpper()\n$z = $h['key']\n$w = $arr[0][1]\n$v = $arr[-1]\n$q = $h.'key with space'",
    ),
    ("dynamic-members", "$obj.$prop\n$x.($name)\n$type = $obj.GetType().FullName"),
    (
        "psobject",
        "$x = New-Object -TypeName PSObject -Property @{ A = 1 }\n$x | Add-Member -MemberType NoteProperty -Name B -Value 2",
    ),
    ("void-and-null", "[void]$list.Add(1)\n$null = $list.Add(2)\n$null = New-Item -ItemType Directory -Path $d -Force"),
    (
        "scoped-variables",
        "$x = $env:COMPUTERNAME\n$y = ${env:ProgramFiles(x86)}\n$z = $script:foo\n$g = $global:bar\n${a b} = 1",
    ),
    (
        "automatic-variables",
        "$ok = $?\n$code = $LASTEXITCODE\n$p = $PID\n$args[0]\n$this\n$v = $PSVersionTable.PSVersion.Major",
    ),
    ("line-continuation", "$long = 'a' + `\n    'b'\nGet-Thing -Name x `\n    -Value y"),
    ("ranges-and-slices", "$x = $a[1..3]\n$y = $a[0,2]\n$z = $b[-1..-3]\n$w = $a[$i - 1] + $a[$i+1]"),
    ("statement-as-value", "$x = if ($a) { 1 } else { 2 }\n$y = $(try { 1 } catch { 2 })"),
    ("unary-comma-return", "return ,$list"),
    ("exit", "exit 0\nexit $LASTEXITCODE"),
    (
        "credentials",
        "$s = ConvertTo-SecureString $p -AsPlainText -Force\n"
        "$c = New-Object System.Management.Automation.PSCredential($u, $s)",
    ),
    (
        "principal",
        "$id = [System.Security.Principal.WindowsIdentity]::GetCurrent()\n"
        "$p = New-Object System.Security.Principal.WindowsPrincipal($id)\n"
        "$admin = $p.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)",
    ),
    (
        "native-commands",
        'sc.exe config x start= auto\nicacls $p /grant "Users:(R)"\n'
        'netsh advfirewall firewall add rule name="x" dir=in action=allow\nreg.exe query HKLM\\Software /v x',
    ),
    (
        "native-with-env-path",
        "& $env:SystemRoot\\System32\\certutil.exe -f -p pw -importpfx $pfx\n$null = & schtasks.exe /Query /TN 'x' 2>$null",
    ),
    (
        "start-process",
        "$p = Start-Process -FilePath 'msiexec.exe' -ArgumentList '/i', $msi, '/qn' -Wait -PassThru -NoNewWindow",
    ),
    ("write-host-nonewline", "Write-Host 'working...' -NoNewline\nWrite-Host ('a' + 'b') -ForegroundColor Green"),
    ("out-string-stream", "Get-Process | Out-String -Stream | Select-String 'x'"),
    ("regex-matches", "$r = [regex]::Matches($s, '\\d+') | ForEach-Object { $_.Value }"),
    ("named-captures", "if ($line -match '^(?<k>\\w+)=(?<v>.*)$') { $h[$matches.k] = $matches.v }"),
    ("base64", "$b = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($s))"),
    ("web-client", "$wc = New-Object System.Net.WebClient\n$wc.DownloadString($url)"),
    ("com-object", "$o = New-Object -ComObject Shell.Application"),
    ("assembly-load", "[void][System.Reflection.Assembly]::LoadWithPartialName('System.Web')"),
    ("select-object-bareword-list", "Get-Process | Select-Object Name, Id\nSelect-Object -Property Name,Id -First 5"),
    (
        "bareword-list-after-string",
        "Get-Thing 'a', b\nGet-Thing -Names a, 'b', $c\nSet-Variable -Option ReadOnly, AllScope -Name x -Value 1",
    ),
    (
        "switch-clauses-on-one-line",
        "switch ($x) { 1 { 'one' } 2 { 'two' } default { 'many' } }\nswitch ($y) { 'a' { 1 } $z { 2 } other { 3 } }",
    ),
    (
        "param-block-then-body-on-one-line",
        "function f { param($a) process { $_ } }\n"
        "function g { [CmdletBinding()] param([string]$a) Write-Output $a }",
    ),
    ("script-named-blocks", "param($a)\nbegin { $n = 0 }\nprocess { $n++ }\nend { $n }"),
    (
        "script-named-blocks-with-attributes",
        "[CmdletBinding()]\nparam([Parameter(ValueFromPipeline = $true)] $InputObject)\nprocess { $InputObject }",
    ),
    ("script-block-named-blocks", "$block = {\n    param($x)\n    begin { }\n    process { $x }\n}"),
    ("empty-here-strings", '$a = @"\n"@\n$b = @\'\n\'@\n$c = @"\n"@ -f 1'),
    ("nested-type-name", "$d = [Environment]::GetFolderPath([Environment+SpecialFolder]::Desktop)"),
    ("empty-script", ""),
    ("comment-only-script", "# nothing to do yet\n<# really #>\n"),
    ("crlf-line-endings", '$x = 1\r\nif ($x) {\r\n  $y = @"\r\ntext\r\n"@\r\n}\r\n'),
    ("get-command-as-argument", "if (Get-Command ConvertTo-Json -ErrorAction SilentlyContinue) { 'has json' }"),
    ("get-content-ps2-parameters", "Get-Content -Path $p -ReadCount 0 -Encoding UTF8 -TotalCount 5 -Wait"),
    ("out-file-ps2-parameters", "'a' | Out-File -FilePath $p -Encoding ASCII -Append -NoClobber -Width 200"),
    ("get-childitem-ps2-parameters", "Get-ChildItem -Path $p -Filter *.log -Include *.ps1 -Recurse -Force -Name"),
    (
        "where-object-filterscript",
        "Get-Service | Where-Object -FilterScript { $_.Status -eq 'Running' }\n"
        "Where-Object -InputObject $x { $_ }\n$sb = { $_ }\nGet-Service | Where-Object $sb",
    ),
    (
        "foreach-object-variable-block",
        "$sb = { $_ }\n1..3 | ForEach-Object $sb\n1..3 | % -Process $sb -ErrorAction Stop",
    ),
    (
        "error-action-values",
        "Get-Item x -ErrorAction SilentlyContinue\nGet-Item x -EA Stop\nGet-Item x -ErrorAction:Continue -WarningAction Inquire",
    ),
    ("redirected-native-error", '$output = & cmd.exe /c "echo hi && exit 1" 2>&1 | Out-String'),
]


@pytest.mark.parametrize("source", [pytest.param(source, id=name) for name, source in VALID_PS2])
def test_valid_powershell_2_has_no_findings(source: str) -> None:
    findings = check_powershell(source)
    assert findings == [], describe(findings)


# --------------------------------------------------------------------------- newer constructs

NEWER = [
    # snippet, rule, version the message must name
    ("$h = [ordered]@{ a = 1 }", "ordered", "3.0"),
    ("$o = [pscustomobject]@{ a = 1 }", "pscustomobject", "3.0"),
    ("$o = [System.Management.Automation.PSCustomObject]@{ a = 1 }", "pscustomobject", "3.0"),
    ("$l = [System.Collections.Generic.List[string]]::new()", "new_method", "5.0"),
    ("$s = [System.Text.StringBuilder]::New(16)", "new_method", "5.0"),
    ("$x = 1 -in $a", "in_operator", "3.0"),
    ("if ($x -notin $a) { }", "in_operator", "3.0"),
    ("$a.ForEach({ $_ * 2 })", "foreach_where_method", "4.0"),
    ("$a.Where({ $_ -gt 1 })", "foreach_where_method", "4.0"),
    ("$a.ForEach{ $_ * 2 }", "foreach_where_method", "4.0"),
    ("$a.Where{ $_ -gt 1 }", "foreach_where_method", "4.0"),
    ("$x = 1 -shl 2", "shift_operator", "3.0"),
    ("$x = 8 -shr 1", "shift_operator", "3.0"),
    ("1..3 | ForEach-Object { $PSItem }", "psitem", "3.0"),
    ("Invoke-Command -ComputerName a { $using:path }", "using_scope", "3.0"),
    ('Invoke-Command -ComputerName a { "at $using:path" }', "using_scope", "3.0"),
    ("class Foo { [string]$Name }", "class_enum", "5.0"),
    ("enum Color { Red; Green }", "class_enum", "5.0"),
    ("using namespace System.IO", "using_statement", "5.0"),
    ("using module MyModule", "using_statement", "5.0"),
    ("workflow Go { 'x' }", "workflow", "3.0"),
    ("#requires -Version 3.0\n$x = 1", "requires", "3.0"),
    ("#Requires -version 4\n$x = 1", "requires", "4.0"),
    ("#requires -Modules PKI\n$x = 1", "requires", "3.0"),
    ("#requires -RunAsAdministrator\n$x = 1", "requires", "4.0"),
    ("$j = $o | ConvertTo-Json -Depth 3", "json_cmdlet", "3.0"),
    ("$o = ConvertFrom-Json $text", "json_cmdlet", "3.0"),
    ("$o = Microsoft.PowerShell.Utility\\ConvertFrom-Json $text", "json_cmdlet", "3.0"),
    ("$o = & 'ConvertTo-Json' $x", "json_cmdlet", "3.0"),
    ("Invoke-RestMethod -Uri $u", "web_cmdlet", "3.0"),
    ("Invoke-WebRequest -Uri $u -OutFile $f", "web_cmdlet", "3.0"),
    ("iwr $u", "web_cmdlet", "3.0"),
    ("Get-CimInstance -ClassName Win32_OperatingSystem", "cim_cmdlet", "3.0"),
    ("Invoke-CimMethod -ClassName Win32_Process -MethodName Create", "cim_cmdlet", "3.0"),
    ("$s = New-CimSession -ComputerName a", "cim_cmdlet", "3.0"),
    ("gcim Win32_BIOS", "cim_cmdlet", "3.0"),
    ("Get-ItemPropertyValue -Path HKLM:\\Software\\X -Name Y", "get_itempropertyvalue", "5.0"),
    ("Register-ArgumentCompleter -CommandName x -ScriptBlock { }", "register_argumentcompleter", "5.0"),
    ("$h = Get-FileHash -Path $p -Algorithm SHA256", "newer_cmdlet", "4.0"),
    ("Expand-Archive -Path $zip -DestinationPath $d", "newer_cmdlet", "5.0"),
    ("Unblock-File -Path $p", "newer_cmdlet", "3.0"),
    ("Get-LocalUser -Name x", "newer_cmdlet", "5.1"),
    ("Import-PfxCertificate -FilePath $p -CertStoreLocation Cert:\\LocalMachine\\My", "windows8_module", "3.0"),
    ("Register-ScheduledTask -TaskName x -Action $a", "windows8_module", "3.0"),
    ("New-NetFirewallRule -DisplayName x -Direction Inbound", "windows8_module", "3.0"),
    ("Get-Item x -ErrorAction Ignore", "erroraction_ignore", "3.0"),
    ("Get-Item x -ErrorAction:'Ignore'", "erroraction_ignore", "3.0"),
    ("Get-Item x -EA Ignore", "erroraction_ignore", "3.0"),
    ("Get-Item x -WarningAction Ignore", "erroraction_ignore", "3.0"),
    ("Get-Item x -ErrorAction ([System.Management.Automation.ActionPreference]::Ignore)", "erroraction_ignore", "3.0"),
    ("'x' | Out-File -FilePath $p -NoNewline", "nonewline", "5.0"),
    ("Set-Content -Path $p -Value 'x' -NoNewline", "nonewline", "5.0"),
    ("Add-Content -Path $p -Value 'x' -NoNewline", "nonewline", "5.0"),
    ("$s = $o | Out-String -NoNewline", "nonewline", "6.0"),
    ("$t = Get-Content -Path $p -Raw", "get_content_raw", "3.0"),
    ("$t = gc $p -Raw", "get_content_raw", "3.0"),
    ("$t = Get-Content -Path $p -Tail 10", "newer_parameter", "3.0"),
    ("Get-ChildItem -Path $p -File", "newer_parameter", "3.0"),
    ("dir $p -Directory", "newer_parameter", "3.0"),
    ("Get-ChildItem -Path $p -Recurse -Depth 2", "newer_parameter", "5.0"),
    ("Write-Output $list -NoEnumerate", "newer_parameter", "4.0"),
    ("Get-Process -PipelineVariable p | ForEach-Object { $p }", "newer_common_parameter", "4.0"),
    ("Write-Information 'x' -InformationAction Continue", "newer_common_parameter", "5.0"),
    ("Get-Service | Where-Object Status -eq 'Running'", "simplified_syntax", "3.0"),
    ("Get-Service | ? Status -eq Running", "simplified_syntax", "3.0"),
    ("Get-Service | Where-Object -Property Status -Value Running -EQ", "simplified_syntax", "3.0"),
    ("Get-Service | ForEach-Object Name", "simplified_syntax", "3.0"),
    ("Get-Service | % -MemberName Name", "simplified_syntax", "3.0"),
    ("1..3 | ForEach-Object -Parallel { $_ }", "foreach_parallel", "7.0"),
    ("function f { param([Parameter(Mandatory)][string]$a) }", "attribute_shorthand", "3.0"),
    ("function f { [CmdletBinding(SupportsShouldProcess)] param() }", "attribute_shorthand", "3.0"),
    ("Get-Thing 3> $null", "stream_redirection", "3.0"),
    ("Get-Thing *>&1", "stream_redirection", "3.0"),
    ("Get-Thing 4>&1 5>> debug.log", "stream_redirection", "3.0"),
    ("Get-Thing 6> $null", "stream_redirection", "5.0"),
    ("icacls.exe --% C:\\x /grant Users:(R)", "stop_parsing", "3.0"),
    ("git pull && git push", "pipeline_chain", "7.0"),
    ("Get-Thing || Write-Error 'failed'", "pipeline_chain", "7.0"),
    ("$x = $a ? 'yes' : 'no'", "ternary", "7.0"),
    ("$x = $a ?? 'default'", "null_coalescing", "7.0"),
    ("$x ??= 'default'", "null_coalescing", "7.0"),
    ("$n = ${a}?.Name", "null_conditional", "7.0"),
    ("$n = ${a}?[0]", "null_conditional", "7.0"),
]


@pytest.mark.parametrize(
    ("source", "rule", "version"), [pytest.param(*case, id=f"{case[1]}:{case[0][:40]}") for case in NEWER]
)
def test_newer_construct_is_reported_with_its_version(source: str, rule: str, version: str) -> None:
    findings = [finding for finding in check_powershell(source) if finding.rule == rule]
    assert findings, f"{rule} not reported for {source!r}: {describe(check_powershell(source))}"
    assert any(f"PowerShell {version}" in finding.message for finding in findings), describe(findings)


def test_every_rule_has_an_example() -> None:
    covered = {rule for _source, rule, _version in NEWER} | {"syntax", "non_ascii"}
    assert covered == set(RULES)


def test_rule_versions_are_the_lowest_named_in_messages() -> None:
    for source, rule, version in NEWER:
        assert tuple(map(int, version.split("."))) >= tuple(map(int, RULES[rule][0].split("."))), (rule, source)


def test_newer_construct_position() -> None:
    source = "$a = 1\n$b = @(1, 2)\nif ($a -in $b) { $h = [ordered]@{} }\n"
    findings = check_powershell(source)
    assert [(f.line, f.column, f.rule, f.text) for f in findings] == [
        (3, 8, "in_operator", "-in"),
        (3, 24, "ordered", "ordered"),
    ]


def test_convertto_json_as_command_versus_mentions() -> None:
    assert rules_of(check_powershell("$j = $o | ConvertTo-Json")) == {"json_cmdlet"}
    assert check_powershell("# $j = $o | ConvertTo-Json") == []
    assert check_powershell("$msg = 'ConvertTo-Json is not available'") == []


# --------------------------------------------------------------- comments and strings stay quiet

QUIET = [
    ("line-comment", "# ConvertTo-Json, [ordered], $PSItem, $using:x, ::new(), -in, -shl, ?? ?. && ||\n$x = 1"),
    (
        "block-comment",
        "<#\nclass Foo { }\nusing namespace System.IO\nGet-CimInstance Win32_BIOS -ErrorAction Ignore\n"
        "$x = $a ? 1 : 2\n$a.ForEach({ $_ })\n#>\n$x = 1",
    ),
    ("trailing-comment", "$x = 1  # Invoke-WebRequest would need PowerShell 3.0"),
    ("single-quoted", "$s = 'ConvertTo-Json -in $PSItem [pscustomobject] ::new() && || ?? ?. -Raw'"),
    ("double-quoted", '$s = "use Get-CimInstance -ErrorAction Ignore or [ordered] on 3.0 ?? ?. && ||"'),
    (
        "verbatim-here-string",
        "$s = @'\nclass Foo { }\nusing namespace System.IO\n$a ? 1 : 2\n$x ??= 1\n"
        "Get-Content $p -Raw | ConvertFrom-Json\n'@",
    ),
    ("expandable-here-string", '$s = @"\nworkflow w { }\n[ordered]@{}\n$($n) items -in total\n"@'),
    ("string-arguments", "Write-Host 'Invoke-RestMethod' '-NoNewline' '$using:x'\nWrite-Output \"3> and *>&1\""),
    ("requires-mentioned-in-comment", "# see #requires -Version 3 in the docs\n$x = 1"),
    ("cmd-chain-inside-string", 'cmd.exe /c "mkdir x && cd x || exit 1"'),
    ("question-mark-alias", "Get-ChildItem | ? { $_.Name -like '?x' }"),
]


@pytest.mark.parametrize("source", [pytest.param(source, id=name) for name, source in QUIET])
def test_comments_and_strings_never_trigger_a_rule(source: str) -> None:
    findings = check_powershell(source)
    assert findings == [], describe(findings)


# ------------------------------------------------------------------------------- syntax errors

SYNTAX_ERRORS = [
    # snippet, line of the reported error
    ("unclosed-brace", "$a = 1\nfunction f {\n    $x = 1\n$b = 2\n", 2),
    ("unclosed-brace-last-line", "$a = 1\nif ($a) {\n", 2),
    ("if-empty-condition", "$a = 1\nif () { 'x' }\n", 2),
    ("if-without-condition", "$a = 1\nif ( { 'x' }\n", 2),
    ("if-paren-at-end", "$a = 1\n$b = 2\nif (\n", 3),
    ("stray-closing-brace", "$a = 1\n$b = 2\n}\n$c = 3\n", 3),
    ("unclosed-parenthesis", "$a = 1\n$x = (1 + 2\n", 2),
    ("unterminated-string", '$a = 1\n$x = "unterminated\n', 2),
    ("dangling-operator", "$a = 1\n$x = 1 +\n", 2),
    ("foreach-empty-collection", "foreach ($i in ) { }", 1),
    ("function-without-name", "function { }", 1),
    ("trailing-comma-argument", "Get-Thing a,", 1),
    ("double-comma-argument", "Get-Thing a,,b", 1),
    ("bareword-in-expression-list", "$x = 1, b", 1),
    ("switch-clause-without-block", "switch ($x) { 'a' { 1 } default }", 1),
    ("break-label-then-junk", "while ($true) {\n  break outer extra\n}", 2),
    ("here-string-header-with-blanks", '$s = @" \ntext\n"@', 1),
    ("input-redirection", "Get-Thing < in.txt", 1),
    ("merge-into-error-stream", "Get-Thing 1>&2", 1),
    ("method-call-foreach", "$i = 1..3\n$i.ForEach({ $_ })", 2),
    ("error-inside-script-named-blocks", "begin { }\nprocess {\n  $x = 1 +\n}\n", 3),
    ("error-after-empty-here-string", '$x = @"\n"@ + (\n', 1),
    ("dangling-operator-after-uppercase-suffix", "$a = 1\n$x = $a / 1KB +\n", 2),
    ("unclosed-function-after-param-block", "function f { param($a) process { $_ }", 1),
]


@pytest.mark.parametrize(
    ("source", "line"), [pytest.param(source, line, id=name) for name, source, line in SYNTAX_ERRORS]
)
def test_syntax_error_is_reported_on_its_line(source: str, line: int) -> None:
    findings = [finding for finding in check_powershell(source) if finding.rule == "syntax"]
    assert findings, f"no syntax error for {source!r}"
    assert findings[0].line == line, describe(findings)
    assert findings[0].message.startswith("syntax error")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("Select-Object Name, Id; $x = 1 -in $a", [(1, 32, "in_operator")], id="bareword-list"),
        pytest.param("$k = $n / 1KB; $h = [ordered]@{}", [(1, 22, "ordered")], id="number-suffix"),
        pytest.param("begin { }\nprocess { $x = 1 -in $a }", [(2, 18, "in_operator")], id="script-named-blocks"),
        pytest.param("process { $x = 1 -in $a }", [(1, 18, "in_operator")], id="script-named-blocks-first-line"),
        pytest.param("$s = @'\n'@; $h = [ordered]@{}", [(2, 11, "ordered")], id="empty-here-string"),
    ],
)
def test_positions_survive_grammar_workarounds(source: str, expected: list[tuple[int, int, str]]) -> None:
    assert [(f.line, f.column, f.rule) for f in check_powershell(source)] == expected


def test_stray_braces_cannot_pair_with_the_braces_around_named_blocks() -> None:
    # Wrapped in braces, "begin { }\n} {" would read as two valid script blocks.
    assert rules_of(check_powershell("begin { }\n} {\n")) == {"syntax"}


def test_unclosed_brace_points_at_the_opening_brace() -> None:
    (finding,) = check_powershell("$a = 1\nfunction Get-X {\n    $x = 1\n")
    assert (finding.line, finding.column, finding.rule) == (2, 16, "syntax")
    assert "never closed" in finding.message and finding.text == "function Get-X {"


# ------------------------------------------------------------------------------------ non-ASCII


def test_non_ascii_is_reported_with_character_columns() -> None:
    source = "$a = 1\nWrite-Host 'caf\u00e9 \u2013 na\u00efve'  # \u201cquoted\u201d\n"
    findings = check_powershell(source)
    assert [(f.line, f.column, f.rule, f.text) for f in findings] == [
        (2, 16, "non_ascii", "\u00e9"),
        (2, 18, "non_ascii", "\u2013"),
        (2, 22, "non_ascii", "\u00ef"),
        (2, 30, "non_ascii", "\u201c"),
        (2, 37, "non_ascii", "\u201d"),
    ]
    assert "U+00E9" in findings[0].message


def test_byte_order_mark_is_non_ascii() -> None:
    findings = check_powershell("\ufeff$x = 1\n")
    assert [(f.line, f.column, f.rule) for f in findings] == [(1, 1, "non_ascii")]


def test_columns_count_characters_after_non_ascii_text() -> None:
    findings = check_powershell("$s = '\u00e9\u00e9'; $x = 1 -in $a")
    assert [(f.column, f.rule) for f in findings] == [(7, "non_ascii"), (19, "in_operator")]


# ------------------------------------------------------------------------------ opting out


def test_allow_comment_silences_named_version_rules_on_its_line_only() -> None:
    source = (
        "if ($PSVersionTable.PSVersion.Major -ge 3) { $j = $o | ConvertTo-Json }  # ps2-allow: json_cmdlet\n"
        "$k = $o | ConvertTo-Json\n"
        "$h = [ordered]@{}  # ps2-allow: json_cmdlet, in_operator\n"
    )
    assert [(f.line, f.rule) for f in check_powershell(source)] == [(2, "json_cmdlet"), (3, "ordered")]


def test_allow_comment_cannot_silence_syntax_or_non_ascii() -> None:
    source = "$x = (1 +  # ps2-allow: syntax, non_ascii \u00e9\n"
    assert rules_of(check_powershell(source)) == {"syntax", "non_ascii"}


# --------------------------------------------------------------------------------- helpers


def test_finding_is_immutable() -> None:
    finding = Finding(1, 2, "syntax", "m", "t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.line = 3  # type: ignore[misc]
    assert finding.format("a.ps1") == "a.ps1:1:2: syntax: m [t]"


def test_check_powershell_wants_text() -> None:
    with pytest.raises(TypeError, match="x.ps1"):
        check_powershell(b"$x = 1", "x.ps1")  # type: ignore[arg-type]


@pytest.mark.parametrize("script", ["", "$x = 1", "Write-Host 'h\u00e9'", "x" * 1000])
def test_encoded_command_length(script: str) -> None:
    command = encoded_command(script)
    assert encoded_command_length(script) == len(command)
    prefix = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "
    assert command.startswith(prefix)
    assert base64.b64decode(command[len(prefix) :]).decode("utf-16-le") == script
    assert len(command) == len(prefix) + 4 * ((2 * len(script) + 2) // 3)


def test_cmd_exe_limit() -> None:
    assert CMD_EXE_MAX_COMMAND_LINE == 8191
    # UTF-16 then base64 makes each script character cost 8/3 characters: about 3,000 fit.
    assert encoded_command_length("x" * 3000) < CMD_EXE_MAX_COMMAND_LINE < encoded_command_length("x" * 3100)


def test_iter_ps1_files_looks_only_in_plugins_and_roles(tmp_path: Path) -> None:
    for relative in (
        "plugins/modules/a.ps1",
        "plugins/module_utils/b.PS1",
        "roles/r/files/c.ps1",
        "roles/r/templates/d.ps1.j2",
        "plugins/modules/e.psm1",
        "tests/f.ps1",
        "docs/g.ps1",
    ):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("$x = 1\n")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_ps1_files(tmp_path)] == [
        "plugins/module_utils/b.PS1",
        "plugins/modules/a.ps1",
        "roles/r/files/c.ps1",
    ]
    assert iter_ps1_files(tmp_path / "missing") == []


def test_command_line_reports_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.ps1"
    good.write_text("$x = 1\n")
    bad = tmp_path / "bad.ps1"
    bad.write_text("$x = 1\n$h = [ordered]@{}\n")
    assert ps_grammar.main([str(good)]) == 0
    assert ps_grammar.main([str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:2:7: ordered:" in out and str(good) not in out


def test_command_line_runs_as_a_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ps1"
    bad.write_text("Get-CimInstance Win32_BIOS\n")
    result = subprocess.run(
        [sys.executable, str(REPO / "tests" / "support" / "ps_grammar.py"), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert re.search(r"bad\.ps1:1:1: cim_cmdlet: 'Get-CimInstance' needs PowerShell 3\.0", result.stdout)


# ---------------------------------------------------------------- the collection's own scripts


def test_every_shipped_script_is_powershell_2() -> None:
    files = iter_ps1_files(REPO)
    found = sorted(
        Path(name)
        for top in ("plugins", "roles")
        for name in glob.glob(str(REPO / top / "**" / "*.[pP][sS]1"), recursive=True)
        if Path(name).is_file()
    )
    assert files == found
    problems = [
        finding.format(str(path.relative_to(REPO))) for path in files for finding in ps_grammar.check_file(path)
    ]
    assert problems == [], "\n".join(problems)
