"""Reports: metrics, rollups, retention and privacy requests."""
