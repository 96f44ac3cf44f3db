"""Service connections: the outside services an admin connects (Plex, Seerr, Uptime Kuma, OpenSubtitles) with
their sealed secrets, probes, the status board and uptime, and Plex refreshes (plex_refresh.py)."""
