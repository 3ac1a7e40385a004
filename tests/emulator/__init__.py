"""The emulated Windows fleet: a WS-Management/WinRS server plus Windows host models (test-only)."""
