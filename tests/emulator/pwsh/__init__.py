"""A PowerShell 2.0 interpreter for the scripts codesign.windows sends: see interpreter.py."""
