"""Statistics and diagnostics computed from saved results."""
