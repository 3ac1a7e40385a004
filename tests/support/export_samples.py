"""What the sample exports in docs/samples/exports/ must come to, for the unit and end-to-end tests alike.

Written by hand from the advisories' rules (docs/verdict.md), never computed from the catalog.
"""

# host -> status, written by hand: the row of the advisories each host falls under, and why.
SAMPLE_STATUSES = {
    # evidence.csv
    "web01": "ready",                 # 2012 R2, KB5034819: a later monthly rollup
    "web02": "needs_kb",              # 2012 R2, only KB2919355
    "app01": "ready",                 # Server 2019, UBR 2210 = the minimum
    "app02": "needs_kb",              # Server 2019, UBR 2209 (from the four-part version)
    "dmz01": "needs_root_ca",         # rollup in place, offline, auto-update off, root CA absent
    "old01": "needs_esu",             # 2008 R2 without the fix, esu false
    "pend01": "reboot_pending",       # KB5006714 listed with a servicing restart pending
    "pc01": "ready",                  # Windows 10 22H2: ready by default
    # evidence.json
    "web03": "ready",                 # Server 2016 UBR 4704
    "web04": "needs_kb",              # Server 2016 UBR 4651
    "kiosk01": "ready",               # 8.1 with the security-only update, offline but the root CA present
    "w11-01": "ready",                # Windows 11 by build alone
    # configmgr-os.csv + configmgr-qfe.csv
    "SRV-SQL01": "ready",             # BuildExt 10.0.17763.2237
    "SRV-SQL02": "needs_kb",          # BuildExt 10.0.17763.1999
    "SRV-FS01": "ready",              # QFE KB5006714
    "SRV-FS02": "needs_kb",           # QFE without the rollup
    "SRV-DC01": "ready",              # Server 2012 (ProductType 2: a domain controller), QFE KB5006739
    "WS-0042": "needs_kb",            # Windows 10 21H2 at 1288, below 1586 (strict)
    "SRV-LEGACY": "needs_kb",         # 2008 R2 without the fix, ESU not known: asked, not refused
    # wsus.csv
    "fs03.corp.example.com": "ready",            # Installed
    "fs04.corp.example.com": "reboot_pending",   # InstalledPendingReboot
    "fs05.corp.example.com": "ready",            # 5006714 NotApplicable (superseded), 5034819 Installed
    "fs06.corp.example.com": "needs_kb",         # Needed
    "fs07.corp.example.com": "needs_kb",         # Failed
    "fs08.corp.example.com": "unknown",          # Unknown only: the updates are not known
    "fs09.corp.example.com": "needs_kb",         # Downloaded, not installed
    "app03.corp.example.com": "unknown",         # Server 2019 without a UBR: WSUS does not record it
    "ws-0099.corp.example.com": "unknown",       # "Windows 10 Pro" names no release
    # cmdb.csv through cmdb-mapping.yml
    "ERP-DB1": "ready",
    "ERP-DB2": "needs_kb_and_root_ca",           # Air-gapped -> offline, Root CA "No"
    "LAB-7": "ready",                            # Windows 7 with the rollup, ESU "Licensed"
    "LAB-8": "no_patch_path",                    # Windows 8
    "NT-OLD": "no_patch_path",                   # Server 2003
}
