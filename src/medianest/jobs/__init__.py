"""Background work, in one home: the queue (huey: a SQLite file embedded, Redis scaled), what consumes it
(`medianest serve` embedded, `medianest worker` scaled), the watchers that run beside a consumer, and the
registry where each capability puts its own tasks (`<capability>/tasks.py`: library scans, downloads,
status checks, request sync, Plex refreshes). The composition root (`medianest.parts`) builds it once per
process.

Each task runs in a huey worker thread with its own event loop and a `JobContext` made for that run: its
own database engine and HTTP client (neither may cross event loops) and a notifier that reaches the
serving process's clients.
"""
