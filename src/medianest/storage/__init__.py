"""Where media bytes live besides local folders: an S3-compatible bucket (objects.py)."""
