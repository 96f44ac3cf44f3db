"""The OpenSubsonic API at /rest (app.py), over the same library, per-user data and transcoding as api/."""
