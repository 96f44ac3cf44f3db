"""Meta endpoints: health, version, metrics."""
