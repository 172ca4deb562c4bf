"""Energy meters (see base.py for the interface)."""
