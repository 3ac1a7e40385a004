# codesign.windows update operation, protocol 1
#
# Sent on stdin by codesign.windows.acs_hotfix after the probe runner (_acs_runner.ps1), whose
# library it uses for JSON, error records and registry reads. The controller appends $AcsHotfix
# (one operation: look, write, hash, expand, add, remove, task, event, manifests or clean) and a call to Invoke-AcsHotfix.
# Which files, in which order, and what every exit code means is decided on the controller: this
# script only does the one step it is given and reports what happened.
#
# PowerShell 2.0-safe: .NET 2.0 types (FileStream, Directory, DriveInfo, SHA256/SHA1), no CIM,
# no ::new(). wusa.exe refuses to run in a WinRM session, so a .msu is expanded with expand.exe
# and its .cab files are added with DISM (pkgmgr on Windows Server 2008, which has no DISM):
# https://learn.microsoft.com/troubleshoot/windows-client/installing-updates-features-roles/description-of-windows-update-standalone-installer
# https://learn.microsoft.com/windows-hardware/manufacture/desktop/dism-operating-system-package-servicing-command-line-options
# https://learn.microsoft.com/windows-server/administration/windows-commands/expand

function Get-AcsSystemProgram {
    param([string]$Name)
    # A 32-bit PowerShell on 64-bit Windows sees SysWOW64 as System32; a 32-bit DISM cannot service a
    # 64-bit Windows, so such a process runs the 64-bit one through Sysnative.
    # https://learn.microsoft.com/windows/win32/winprog64/file-system-redirector
    if ($env:PROCESSOR_ARCHITEW6432) { return "$env:SystemRoot\Sysnative\$Name" }
    return "$env:SystemRoot\System32\$Name"
}

function Get-AcsHash {
    param($Algorithm, $Bytes)
    if ($Algorithm -eq 'sha1') { $hasher = [System.Security.Cryptography.SHA1]::Create() }
    else { $hasher = [System.Security.Cryptography.SHA256]::Create() }
    return ([System.BitConverter]::ToString($hasher.ComputeHash($Bytes))).Replace('-', '')
}

function Get-AcsFileHash {
    param([string]$Path, $Algorithm)
    $stream = [System.IO.File]::OpenRead($Path)
    try {
        if ($Algorithm -eq 'sha1') { $hasher = [System.Security.Cryptography.SHA1]::Create() }
        else { $hasher = [System.Security.Cryptography.SHA256]::Create() }
        return ([System.BitConverter]::ToString($hasher.ComputeHash($stream))).Replace('-', '')
    }
    finally {
        $stream.Close()
    }
}

function Write-AcsEvent {
    param($Operation, [string]$Message)
    # One Application log entry per change, so that the host's own log says what was installed and by whom.
    # https://learn.microsoft.com/windows-server/administration/windows-commands/eventcreate
    $null = & (Get-AcsSystemProgram 'eventcreate.exe') /L APPLICATION /T INFORMATION /SO $Operation.event_source /ID $Operation.event_id /D $Message
    return $LASTEXITCODE
}

function Invoke-AcsHotfixLook {
    param($Operation, $Result)
    $drive = New-Object System.IO.DriveInfo -ArgumentList ([string]$env:SystemDrive)
    $Result.free_mb = [int64]($drive.AvailableFreeSpace / 1048576)
    $pending = New-Object System.Collections.ArrayList
    $keys = Invoke-AcsRegKeysExist @{ paths = $Operation.pending_keys }
    foreach ($path in $Operation.pending_keys) {
        if ($keys[$path]) { [void]$pending.Add($path) }
    }
    $Result.restart_pending = $pending.ToArray()
    $Result.system_root = [string]$env:SystemRoot
    $Result.tool = $null
    if ([System.IO.File]::Exists((Get-AcsSystemProgram 'dism.exe'))) { $Result.tool = 'dism' }
    elseif ([System.IO.File]::Exists((Get-AcsSystemProgram 'pkgmgr.exe'))) { $Result.tool = 'pkgmgr' }
    # WinRM's per-shell memory quota, as winrm.cmd prints it (MaxMemoryPerShellMB = 150 [Source="GPO"]).
    # https://learn.microsoft.com/windows/win32/winrm/quotas
    try {
        $Result.winrs = @(& (Get-AcsSystemProgram 'winrm.cmd') get winrm/config/winrs)
        $Result.winrs_exit_code = $LASTEXITCODE
    }
    catch {
        $Result.winrs = @()
        $Result.winrs_error = [string]$_.Exception.Message
    }
    if ($Operation.packages_like) {
        $probe = @{ path = $Operation.packages_path; match = $Operation.packages_like; values = @('CurrentState'); limit = 100 }
        $Result.packages = Invoke-AcsRegSubkeys $probe
    }
    if ($Operation.remote_dir) {
        $Result.remote_files = [System.IO.Directory]::GetFiles([string]$Operation.remote_dir)
    }
}

function Invoke-AcsHotfixWrite {
    param($Operation, $Result)
    $bytes = [System.Convert]::FromBase64String($Operation.content)
    $Result.chunk_sha256 = Get-AcsHash 'sha256' $bytes
    if ($Result.chunk_sha256 -ne $Operation.sha256) { return }
    if ($Operation.offset -eq 0) {
        [void][System.IO.Directory]::CreateDirectory([string]$Operation.directory)
        $stream = New-Object System.IO.FileStream -ArgumentList ([string]$Operation.path), 'Create'
    }
    else {
        $stream = New-Object System.IO.FileStream -ArgumentList ([string]$Operation.path), 'Append'
    }
    try {
        $Result.length_before = $stream.Length
        if ($stream.Length -eq $Operation.offset) {
            $stream.Write($bytes, 0, $bytes.Length)
            $Result.written = $bytes.Length
        }
        $Result.length = $stream.Length
    }
    finally {
        $stream.Close()
    }
}

function Invoke-AcsHotfixHash {
    param($Operation, $Result)
    $Result.exists = [System.IO.File]::Exists([string]$Operation.path)
    if ($Result.exists) {
        $Result.sha1 = Get-AcsFileHash $Operation.path 'sha1'
        $Result.sha256 = Get-AcsFileHash $Operation.path 'sha256'
    }
}

function Invoke-AcsHotfixExpand {
    param($Operation, $Result)
    if ([System.IO.Directory]::Exists([string]$Operation.directory)) {
        [System.IO.Directory]::Delete([string]$Operation.directory, $true)
    }
    [void][System.IO.Directory]::CreateDirectory([string]$Operation.directory)
    # expand.exe -F:* <file.msu> <directory>: every file of the cabinet.
    $Result.output = @(& (Get-AcsSystemProgram 'expand.exe') -F:* $Operation.path $Operation.directory)
    $Result.exit_code = $LASTEXITCODE
    $Result.files = [System.IO.Directory]::GetFiles([string]$Operation.directory)
}

function Invoke-AcsHotfixAdd {
    param($Operation, $Result)
    $packages = New-Object System.Collections.ArrayList
    foreach ($cab in $Operation.cabs) {
        if ($Operation.tool -eq 'pkgmgr') {
            # pkgmgr /ip /m:<cab> installs a package on Windows Server 2008 (Vista servicing).
            $output = @(& (Get-AcsSystemProgram 'pkgmgr.exe') /ip "/m:$cab" /quiet /norestart)
        }
        else {
            $output = @(& (Get-AcsSystemProgram 'dism.exe') /online /add-package "/packagepath:$cab" /quiet /norestart)
        }
        $code = $LASTEXITCODE
        $item = @{ cab = $cab; exit_code = $code; output = $output }
        if ($code -eq 0 -or $code -eq 3010) {
            $item.event_exit_code = Write-AcsEvent $Operation ($Operation.event_text + ' installed ' + $cab + ' (exit code ' + $code + ')')
        }
        [void]$packages.Add($item)
        if ($code -ne 0 -and $code -ne 3010) { break }
    }
    $Result.packages = $packages.ToArray()
}

function Invoke-AcsHotfixRemove {
    param($Operation, $Result)
    $packages = New-Object System.Collections.ArrayList
    foreach ($name in $Operation.package_names) {
        $output = @(& (Get-AcsSystemProgram 'dism.exe') /online /remove-package "/packagename:$name" /quiet /norestart)
        $code = $LASTEXITCODE
        $item = @{ cab = $name; exit_code = $code; output = $output }
        if ($code -eq 0 -or $code -eq 3010) {
            $item.event_exit_code = Write-AcsEvent $Operation ($Operation.event_text + ' removed ' + $name + ' (exit code ' + $code + ')')
        }
        [void]$packages.Add($item)
        if ($code -ne 0 -and $code -ne 3010) { break }
    }
    $Result.packages = $packages.ToArray()
}

function Invoke-AcsHotfixTask {
    param($Operation, $Result)
    # One schtasks.exe call on the task that runs a servicing command as SYSTEM, outside WinRM's shell and its
    # memory quota (MaxMemoryPerShellMB). The controller creates, runs, queries and deletes it.
    # https://learn.microsoft.com/windows-server/administration/windows-commands/schtasks
    $schtasks = Get-AcsSystemProgram 'schtasks.exe'
    $name = [string]$Operation.task_name
    $run = [string]$Operation.task_run
    $output = @()
    switch ($Operation.verb) {
        'create' { $output = @(& $schtasks /Create /TN $name /RU SYSTEM /SC ONCE /ST '00:00' /TR $run /F) }
        'run' { $output = @(& $schtasks /Run /TN $name) }
        'query' { $output = @(& $schtasks /Query /TN $name /FO CSV /V /NH) }
        'delete' { $output = @(& $schtasks /Delete /TN $name /F) }
    }
    $Result.exit_code = $LASTEXITCODE
    $Result.output = $output
}

function Invoke-AcsHotfixManifests {
    param($Operation, $Result)
    # The manifest CBS keeps for each named package: its <package identifier="KB..."> says which update a
    # Package_for_RollupFix package is. The controller checked the names.
    $manifests = New-Object System.Collections.ArrayList
    foreach ($name in $Operation.package_names) {
        $path = [string]$env:SystemRoot + '\servicing\Packages\' + [string]$name + '.mum'
        $text = $null
        if ([System.IO.File]::Exists($path)) {
            $text = [System.IO.File]::ReadAllText($path)
            if ($text.Length -gt 8192) { $text = $text.Substring(0, 8192) }
        }
        [void]$manifests.Add(@{ name = $name; text = $text })
    }
    $Result.manifests = $manifests.ToArray()
}

function Invoke-AcsHotfixEvent {
    param($Operation, $Result)
    $Result.event_exit_code = Write-AcsEvent $Operation $Operation.event_text
}

function Invoke-AcsHotfixClean {
    param($Operation, $Result)
    $removed = New-Object System.Collections.ArrayList
    foreach ($path in $Operation.files) {
        if ([System.IO.File]::Exists([string]$path)) {
            [System.IO.File]::Delete([string]$path)
            [void]$removed.Add($path)
        }
    }
    foreach ($path in $Operation.directories) {
        if ([System.IO.Directory]::Exists([string]$path)) {
            [System.IO.Directory]::Delete([string]$path, $true)
            [void]$removed.Add($path)
        }
    }
    $Result.removed = $removed.ToArray()
}

function Invoke-AcsHotfix {
    param($Operation)
    $result = @{ acs_hotfix = $Operation.protocol; action = $Operation.action; error = $null }
    try {
        switch ($Operation.action) {
            'look' { Invoke-AcsHotfixLook $Operation $result }
            'write' { Invoke-AcsHotfixWrite $Operation $result }
            'hash' { Invoke-AcsHotfixHash $Operation $result }
            'expand' { Invoke-AcsHotfixExpand $Operation $result }
            'add' { Invoke-AcsHotfixAdd $Operation $result }
            'remove' { Invoke-AcsHotfixRemove $Operation $result }
            'clean' { Invoke-AcsHotfixClean $Operation $result }
            'task' { Invoke-AcsHotfixTask $Operation $result }
            'event' { Invoke-AcsHotfixEvent $Operation $result }
            'manifests' { Invoke-AcsHotfixManifests $Operation $result }
        }
    }
    catch {
        $result.error = [string]$_.Exception.Message
        $result.record = Get-AcsErrorRecord $_
    }
    Write-Output (ConvertTo-AcsJson $result)
}
