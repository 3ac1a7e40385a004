# codesign.windows root certificate operation, protocol 1
#
# Sent on stdin by codesign.windows.acs_root_ca after the probe runner (_acs_runner.ps1), whose
# library it uses for JSON, error records and registry reads. The controller appends $AcsRootCa
# (the operation: add or only look, the certificate as base64 DER, the store keys to report) and a
# call to Invoke-AcsRootCa. Whether to add, and what the answer means, is decided on the controller.
#
# PowerShell 2.0-safe: X509Store and X509Certificate2 are .NET 2.0 types; no ::new(), no CIM.
# X509Store.Add: https://learn.microsoft.com/en-us/dotnet/api/system.security.cryptography.x509certificates.x509store.add

function Invoke-AcsRootCa {
    param($Operation)
    $result = @{ acs_root_ca = $Operation.protocol; added = $false; thumbprint = $null; error = $null }
    if ($Operation.add) {
        try {
            $certificate = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2
            $certificate.Import([System.Convert]::FromBase64String($Operation.certificate))
            $result.thumbprint = [string]$certificate.Thumbprint
            # LocalMachine\Root: the machine's trusted roots, which every account and service uses.
            $store = New-Object System.Security.Cryptography.X509Certificates.X509Store -ArgumentList 'Root', 'LocalMachine'
            $store.Open('ReadWrite')
            try {
                $store.Add($certificate)
            }
            finally {
                $store.Close()
            }
            $result.added = $true
        }
        catch {
            $result.error = [string]$_.Exception.Message
            $result.record = Get-AcsErrorRecord $_
        }
    }
    # The stores as acs_facts reads them: one registry key per certificate, named by its SHA-1.
    try {
        $result.stores = Invoke-AcsRegKeysExist @{ paths = $Operation.paths }
    }
    catch {
        $result.stores = $null
        $result.stores_error = [string]$_.Exception.Message
        $result.stores_record = Get-AcsErrorRecord $_
    }
    Write-Output (ConvertTo-AcsJson $result)
}
