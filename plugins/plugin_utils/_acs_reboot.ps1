# codesign.windows restart operation, protocol 1
#
# Sent on stdin by codesign.windows.acs_reboot after the probe runner (_acs_runner.ps1), whose
# library it uses for the probes, JSON and error records. The controller appends $AcsReboot (the
# probes to read, and whether to restart) and a call to Invoke-AcsReboot. Whether to restart, and
# what the answer means, is decided on the controller.
#
# PowerShell 2.0-safe. shutdown.exe's exit code is the answer; its text depends on the display
# language and is only shown. shutdown.exe:
# https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/shutdown

function Invoke-AcsReboot {
    param($Operation)
    $parts = New-Object System.Collections.ArrayList
    foreach ($probe in $Operation.probes) {
        [void]$parts.Add((Invoke-AcsProbe $probe))
    }
    $shutdown = $null
    if ($Operation.restart) {
        $shutdown = @{ rc = $null; aborted = $null; output = ''; error = $null }
        # A native command's non-zero exit code is no PowerShell error; it is read from $LASTEXITCODE.
        $ErrorActionPreference = 'Continue'
        try {
            if ($Operation.abort_first) {
                $null = @(& shutdown.exe /a)
                $shutdown.aborted = $LASTEXITCODE
            }
            $output = @(& shutdown.exe /r /t $Operation.delay /c $Operation.message)
            $shutdown.rc = $LASTEXITCODE
            $shutdown.output = [string]::Join(' ', [string[]]$output)
        }
        catch {
            $shutdown.error = [string]$_.Exception.Message
            $shutdown.record = Get-AcsErrorRecord $_
        }
    }
    $document = '{"acs_reboot":' + (ConvertTo-AcsJson $Operation.protocol)
    $document += ',"probes":[' + [string]::Join(',', [string[]]$parts.ToArray()) + ']'
    $document += ',"shutdown":' + (ConvertTo-AcsJson $shutdown) + '}'
    Write-Output $document
}
