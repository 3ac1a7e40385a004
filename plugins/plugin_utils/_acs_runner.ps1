# codesign.windows ACS probe runner, protocol 1
#
# Sent on stdin by codesign.windows.acs_facts, after a bootstrap that only reads stdin and runs
# it. The controller appends $AcsOptions and $AcsProbes (a declarative list of probes) and a
# call to Invoke-AcsRunner. Every decision is taken on the controller: this script only reads
# the registry, WMI, services and file versions the probes name and prints one JSON document.
#
# Written for PowerShell 2.0 (Windows 7 / Server 2008 R2): no ConvertTo-Json, no CIM cmdlets,
# no [ordered], no ::new(), no -in, no .ForEach(). Output is ASCII only: every other character
# is escaped as \uXXXX, because console code pages differ between hosts.

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

# The probe library runs in its own runspace so that a probe that hangs (a broken WMI
# repository, a slow registry hive) can be abandoned after its timeout.
$AcsLibrary = {
    function ConvertTo-AcsJsonString {
        param([string]$Text)
        # Printable ASCII (nearly every string, registry paths included) needs only \ and " escaped; the
        # character loop below is for the rest, and costs a real PowerShell 2.0 host far more per string.
        if ($Text -cmatch '^[ -~]*$') {
            return '"' + $Text.Replace('\', '\\').Replace('"', '\"') + '"'
        }
        $builder = New-Object System.Text.StringBuilder
        [void]$builder.Append('"')
        foreach ($ch in $Text.ToCharArray()) {
            $code = [int]$ch
            if ($code -eq 34) { [void]$builder.Append('\"') }
            elseif ($code -eq 92) { [void]$builder.Append('\\') }
            elseif ($code -lt 32 -or $code -gt 126) { [void]$builder.Append('\u' + $code.ToString('x4')) }
            else { [void]$builder.Append($ch) }
        }
        [void]$builder.Append('"')
        return $builder.ToString()
    }

    function ConvertTo-AcsJson {
        param($Value, [int]$Depth = 0)
        if ($Depth -gt 8) { return '"(nested too deeply)"' }
        if ($null -eq $Value) { return 'null' }
        # The common cases first: most values are strings and tables, and each -is test below costs time.
        if ($Value -is [string]) { return ConvertTo-AcsJsonString $Value }
        if ($Value -is [System.Collections.IDictionary]) {
            $parts = New-Object System.Collections.ArrayList
            foreach ($key in $Value.Keys) {
                $item = (ConvertTo-AcsJsonString ([string]$key)) + ':' + (ConvertTo-AcsJson $Value[$key] ($Depth + 1))
                [void]$parts.Add($item)
            }
            return '{' + [string]::Join(',', [string[]]$parts.ToArray()) + '}'
        }
        if ($Value -is [bool]) {
            if ($Value) { return 'true' }
            return 'false'
        }
        # Integers are all the numbers a probe returns (registry DWORD and QWORD, WMI uint16/uint32, times in
        # ms): no probe reads a floating-point value or a date (WMI dates stay DMTF strings, parsed on the
        # controller), so neither has a case here. A negative DWORD is written in the invariant culture.
        if ($Value -is [int] -or $Value -is [long] -or $Value -is [uint32] -or $Value -is [uint64] -or
            $Value -is [int16] -or $Value -is [uint16] -or $Value -is [byte] -or $Value -is [sbyte]) {
            return $Value.ToString([System.Globalization.CultureInfo]::InvariantCulture)
        }
        if ($Value -is [byte[]]) {
            return ConvertTo-AcsJsonString ([System.BitConverter]::ToString($Value))
        }
        if ($Value -is [System.Collections.IEnumerable]) {
            $parts = New-Object System.Collections.ArrayList
            foreach ($item in $Value) {
                [void]$parts.Add((ConvertTo-AcsJson $item ($Depth + 1)))
            }
            return '[' + [string]::Join(',', [string[]]$parts.ToArray()) + ']'
        }
        return ConvertTo-AcsJsonString ([string]$Value)
    }

    function Open-AcsRegistryKey {
        param([string]$Path)
        # Read-only; a missing key is $null, a denied key throws SecurityException.
        return [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($Path, $false)
    }

    function Get-AcsRegistryValues {
        param($Key, $Names, $Presence)
        $values = @{}
        foreach ($name in $Names) {
            $value = $Key.GetValue($name)
            if ($null -ne $value) { $values[$name] = $value }
        }
        foreach ($name in $Presence) {
            if ($null -ne $Key.GetValue($name)) { $values[$name] = $true }
        }
        return $values
    }

    function Invoke-AcsRegValues {
        param($Probe)
        $key = Open-AcsRegistryKey $Probe.path
        if ($null -eq $key) { return @{ exists = $false; values = @{} } }
        try {
            return @{ exists = $true; values = (Get-AcsRegistryValues $key $Probe.names $Probe.presence) }
        }
        finally {
            $key.Close()
        }
    }

    function Invoke-AcsRegKeysExist {
        param($Probe)
        $found = @{}
        foreach ($path in $Probe.paths) {
            $key = Open-AcsRegistryKey $path
            $found[$path] = ($null -ne $key)
            if ($null -ne $key) { $key.Close() }
        }
        return $found
    }

    function Test-AcsLike {
        param([string]$Text, $Patterns)
        foreach ($pattern in $Patterns) {
            if ($Text -like $pattern) { return $true }
        }
        return $false
    }

    function Invoke-AcsRegSubkeys {
        param($Probe)
        $key = Open-AcsRegistryKey $Probe.path
        if ($null -eq $key) { return @{ exists = $false; items = @(); truncated = $false } }
        $items = New-Object System.Collections.ArrayList
        $truncated = $false
        try {
            # One -match over the whole array, not a call per key: CBS\Packages holds up to 15,000 keys.
            $names = $key.GetSubKeyNames()
            if ($Probe.match) { $names = @($names -match $Probe.match) }
            if ($Probe.first_match) { $names = @($names -match $Probe.first_match) + @($names -notmatch $Probe.first_match) }
            foreach ($name in $names) {
                if ($Probe.like -and -not (Test-AcsLike $name $Probe.like)) { continue }
                $sub = $key.OpenSubKey($name, $false)
                if ($null -eq $sub) { continue }
                try {
                    $values = Get-AcsRegistryValues $sub $Probe.values @()
                }
                finally {
                    $sub.Close()
                }
                if ($Probe.where_value -and -not (Test-AcsLike ([string]$values[$Probe.where_value]) $Probe.where_like)) {
                    continue
                }
                if ($items.Count -ge $Probe.limit) {
                    $truncated = $true
                    break
                }
                [void]$items.Add(@{ name = $name; values = $values })
            }
        }
        finally {
            $key.Close()
        }
        return @{ exists = $true; items = $items.ToArray(); truncated = $truncated }
    }

    function Invoke-AcsWmi {
        param($Probe)
        $query = @{ Class = $Probe.wmi_class; Namespace = $Probe.namespace; ErrorAction = 'Stop' }
        if ($Probe.wmi_filter) { $query.Filter = $Probe.wmi_filter }
        $items = New-Object System.Collections.ArrayList
        $truncated = $false
        foreach ($object in @(Get-WmiObject @query)) {
            if ($items.Count -ge $Probe.limit) {
                $truncated = $true
                break
            }
            # The raw WMI values, never PowerShell's computed members: Windows PowerShell 2.0-5.1
            # turns Win32_QuickFixEngineering.InstalledOn into a date parsed with the session's
            # culture, which throws for a day above 12 on en-GB or de-DE and swaps day and month
            # below it. Dates are parsed on the controller.
            $raw = @{}
            foreach ($property in $object.psbase.Properties) { $raw[$property.Name] = $property.Value }
            $item = @{}
            foreach ($property in $Probe.properties) {
                $item[$property] = $raw[$property]
            }
            [void]$items.Add($item)
        }
        return @{ items = $items.ToArray(); truncated = $truncated }
    }

    function Invoke-AcsServices {
        param($Probe)
        # Existence and start type come from the service's registry key: an account that is not
        # an administrator cannot open the Service Control Manager over WinRM, so Get-Service
        # cannot enumerate. Status is asked per service and is best effort.
        $found = @{}
        foreach ($name in $Probe.names) {
            $key = Open-AcsRegistryKey ('SYSTEM\CurrentControlSet\Services\' + $name)
            if ($null -eq $key) {
                $found[$name] = @{ exists = $false }
                continue
            }
            try {
                $start = $key.GetValue('Start')
            }
            finally {
                $key.Close()
            }
            $entry = @{ exists = $true; start = $start; status = $null }
            try {
                $entry.status = [string](Get-Service -Name $name -ErrorAction Stop).Status
            }
            catch {
                $entry.status_error = Get-AcsErrorRecord $_
            }
            $found[$name] = $entry
        }
        return $found
    }

    function Invoke-AcsFileVersion {
        param($Probe)
        $path = [System.Environment]::ExpandEnvironmentVariables($Probe.path)
        if (-not [System.IO.File]::Exists($path)) { return @{ exists = $false } }
        $info = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($path)
        $version = '{0}.{1}.{2}.{3}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart
        return @{ exists = $true; version = $version; product_version = $info.ProductVersion }
    }

    function Invoke-AcsHttpHead {
        param($Probe)
        # WinHTTP, the stack automatic root update uses, with its machine proxy settings (netsh winhttp):
        # SetProxy's default is HTTPREQUEST_PROXYSETTING_PRECONFIG.
        # https://learn.microsoft.com/en-us/windows/win32/winhttp/iwinhttprequest-setproxy
        $request = New-Object -ComObject 'WinHttp.WinHttpRequest.5.1'
        $limit = [int]$Probe.request_timeout_ms
        $request.SetTimeouts($limit, $limit, $limit, $limit)
        try {
            $request.Open('HEAD', $Probe.url, $false)
            $request.Send()
            return @{ status = [int]$request.Status; error_code = $null; error = $null }
        }
        catch {
            # WinHTTP reports a failure as a COMException whose ErrorCode is the HRESULT (0x80072EE7: name not
            # resolved; 0x80072EE2: timed out; 0x80072EFD: cannot connect). PowerShell wraps it.
            $exception = $_.Exception
            while ($null -ne $exception.InnerException -and -not ($exception -is [System.Runtime.InteropServices.COMException])) {
                $exception = $exception.InnerException
            }
            $code = $null
            if ($exception -is [System.Runtime.InteropServices.COMException]) { $code = '0x{0:X8}' -f $exception.ErrorCode }
            return @{ status = $null; error_code = $code; error = [string]$exception.Message }
        }
    }

    function Invoke-AcsPowerShellVersion {
        param($Probe)
        return @{ version = [string]$PSVersionTable.PSVersion; clr = [string]$PSVersionTable.CLRVersion }
    }

    function Get-AcsErrorRecord {
        param($ErrorRecord)
        # The error as data; the controller decides what it means. PowerShell 2.0 hands a catch
        # block the ActionPreferenceStopException of -ErrorAction Stop, with the error that
        # stopped the command in its ErrorRecord rather than in InnerException: follow both.
        $chain = New-Object System.Collections.ArrayList
        try {
            $exception = $ErrorRecord.Exception
            while ($null -ne $exception -and $chain.Count -lt 8) {
                $code = $null
                if ($exception -is [System.ComponentModel.Win32Exception]) { $code = [string]$exception.NativeErrorCode }
                elseif ($exception.GetType().FullName -eq 'System.Management.ManagementException') { $code = [string]$exception.ErrorCode }
                [void]$chain.Add(@{
                    type = $exception.GetType().FullName
                    message = [string]$exception.Message
                    hresult = [System.Runtime.InteropServices.Marshal]::GetHRForException($exception)
                    code = $code
                })
                $next = $exception.InnerException
                if ($null -eq $next -and $exception -is [System.Management.Automation.IContainsErrorRecord] -and
                    $null -ne $exception.ErrorRecord -and -not [object]::ReferenceEquals($exception.ErrorRecord.Exception, $exception)) {
                    $next = $exception.ErrorRecord.Exception
                }
                $exception = $next
            }
        }
        catch {
            # A chain that cannot be read further is sent as far as it was read.
        }
        return @{
            category = [string]$ErrorRecord.CategoryInfo.Category
            error_id = [string]$ErrorRecord.FullyQualifiedErrorId
            exceptions = $chain.ToArray()
        }
    }

    function Invoke-AcsProbe {
        param($Probe)
        $ErrorActionPreference = 'Stop'
        $started = [DateTime]::UtcNow
        $result = @{ id = $Probe.id; ok = $true }
        try {
            switch ($Probe.op) {
                'reg_values' { $data = Invoke-AcsRegValues $Probe }
                'reg_keys_exist' { $data = Invoke-AcsRegKeysExist $Probe }
                'reg_subkeys' { $data = Invoke-AcsRegSubkeys $Probe }
                'wmi' { $data = Invoke-AcsWmi $Probe }
                'services' { $data = Invoke-AcsServices $Probe }
                'file_version' { $data = Invoke-AcsFileVersion $Probe }
                'powershell_version' { $data = Invoke-AcsPowerShellVersion $Probe }
                'http_head' { $data = Invoke-AcsHttpHead $Probe }
                default { throw ('unknown probe operation ' + $Probe.op) }
            }
            $result.data = $data
        }
        catch {
            $result.ok = $false
            $result.category = 'error'
            $result.error = [string]$_.Exception.Message
            $result.record = Get-AcsErrorRecord $_
        }
        $result.ms = [int]([DateTime]::UtcNow - $started).TotalMilliseconds
        return ConvertTo-AcsJson $result
    }
}

. $AcsLibrary

function New-AcsRunspace {
    $runspace = [System.Management.Automation.Runspaces.RunspaceFactory]::CreateRunspace()
    $runspace.Open()
    $loader = [System.Management.Automation.PowerShell]::Create()
    $loader.Runspace = $runspace
    [void]$loader.AddScript($AcsLibrary.ToString())
    [void]$loader.Invoke()
    $loader.Dispose()
    return $runspace
}

function ConvertTo-AcsGzipBase64 {
    param([string]$Text)
    # GZipStream and MemoryStream are in .NET 2.0. ToArray still works once the stream is closed, and
    # closing the GZipStream is what writes its last block and trailer (CRC-32, length).
    # https://learn.microsoft.com/en-us/dotnet/api/system.io.compression.gzipstream
    # https://learn.microsoft.com/en-us/dotnet/api/system.io.memorystream.toarray
    $bytes = [System.Text.Encoding]::ASCII.GetBytes($Text)
    $buffer = New-Object -TypeName System.IO.MemoryStream
    $mode = [System.IO.Compression.CompressionMode]::Compress
    $zipper = New-Object -TypeName System.IO.Compression.GZipStream -ArgumentList @($buffer, $mode)
    $zipper.Write($bytes, 0, $bytes.Length)
    $zipper.Close()
    return [System.Convert]::ToBase64String($buffer.ToArray())
}

function Invoke-AcsRunner {
    param($Probes, $Options)
    # Constrained Language Mode (an AppLocker or WDAC policy) blocks what every probe needs: .NET
    # static calls, RunspaceFactory, FileVersionInfo, New-Object of most types. Say so before
    # touching any of them, with nothing that mode forbids; LanguageMode exists on PowerShell 2.0.
    # https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_language_modes
    $languageMode = [string]$ExecutionContext.SessionState.LanguageMode
    if ($languageMode -ne 'FullLanguage') {
        Write-Output ('{"acs_runner":' + $Options.protocol + ',"powershell":"' + [string]$PSVersionTable.PSVersion +
            '","language_mode":"' + $languageMode + '","results":[],"complete":true}')
        return
    }
    $started = [DateTime]::UtcNow
    $results = New-Object System.Collections.ArrayList
    $written = 0
    $runspace = $null
    foreach ($probe in $Probes) {
        if ($written -ge $Options.max_output) {
            $skipped = @{ id = $probe.id; ok = $false; category = 'truncated'; error = 'output limit reached'; ms = 0 }
            [void]$results.Add((ConvertTo-AcsJson $skipped))
            continue
        }
        if ($null -eq $runspace) { $runspace = New-AcsRunspace }
        $pipeline = [System.Management.Automation.PowerShell]::Create()
        $pipeline.Runspace = $runspace
        [void]$pipeline.AddScript('param($Probe) Invoke-AcsProbe $Probe').AddArgument($probe)
        # A probe known to be slow (CBS, ESU) brings its own, longer timeout.
        $limit = [int]$Options.timeout_ms
        if ([int]$probe.timeout_ms -gt $limit) { $limit = [int]$probe.timeout_ms }
        $async = $pipeline.BeginInvoke()
        if ($async.AsyncWaitHandle.WaitOne($limit, $false)) {
            try {
                $json = [string](@($pipeline.EndInvoke($async)) | Select-Object -Last 1)
                if ($json.Length -eq 0) {
                    # The probe's pipeline ended with neither output nor exception: keep the document whole.
                    # Its error stream is not read: Invoke-AcsProbe sets ErrorActionPreference to Stop, so a
                    # probe's error is an exception, caught into its answer or thrown by EndInvoke below.
                    $empty = @{ id = $probe.id; ok = $false; category = 'error'; error = 'the probe returned nothing'; ms = 0 }
                    $json = ConvertTo-AcsJson $empty
                }
            }
            catch {
                $failed = @{ id = $probe.id; ok = $false; category = 'error'; error = [string]$_.Exception.Message; ms = 0 }
                $failed.record = Get-AcsErrorRecord $_
                $json = ConvertTo-AcsJson $failed
            }
            $pipeline.Dispose()
        }
        else {
            # A call stuck in WMI or the registry keeps its runspace busy: leave both behind.
            [void]$pipeline.BeginStop($null, $null)
            $runspace = $null
            $late = @{
                id = $probe.id
                ok = $false
                category = 'timeout'
                error = 'no answer within ' + [string]($limit / 1000) + ' s'
                ms = $limit
            }
            $json = ConvertTo-AcsJson $late
        }
        $written += $json.Length
        [void]$results.Add($json)
    }
    if ($null -ne $runspace) { $runspace.Close() }
    $elapsed = [int]([DateTime]::UtcNow - $started).TotalMilliseconds
    # A 32-bit PowerShell on 64-bit Windows (the Microsoft.PowerShell32 endpoint, a 32-bit shell)
    # sees HKLM\SOFTWARE through the WOW64 registry redirector; the controller decides what that
    # means. PROCESSOR_ARCHITEW6432 is set only inside WOW64 processes.
    # https://learn.microsoft.com/en-us/windows/win32/winprog64/wow64-implementation-details
    $wow64 = -not [string]::IsNullOrEmpty($env:PROCESSOR_ARCHITEW6432)
    $document = '{"acs_runner":' + $Options.protocol + ',"powershell":' + (ConvertTo-AcsJsonString ([string]$PSVersionTable.PSVersion)) +
        ',"language_mode":"FullLanguage","process_bits":' + ([IntPtr]::Size * 8) + ',"wow64":' + (ConvertTo-AcsJson $wow64) +
        ',"elapsed_ms":' + $elapsed + ',"results":[' + [string]::Join(',', [string[]]$results.ToArray()) + '],"complete":true}'
    # A host with years of updates answers hundreds of KB, more than one WS-Management envelope carries:
    # the answer then travels gzip-compressed (the document is ASCII), and stays plain if that fails.
    if ($Options.compress_above -gt 0 -and $document.Length -gt $Options.compress_above) {
        try {
            $document = '{"acs_runner":' + $Options.protocol + ',"gzip":"' + (ConvertTo-AcsGzipBase64 $document) + '"}'
        }
        catch {
            # The plain document is still a whole answer, only a longer one.
        }
    }
    Write-Output $document
}
