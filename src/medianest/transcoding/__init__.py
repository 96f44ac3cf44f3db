"""Transcoding: every file the library accepts plays on every client.

decide.py chooses direct play, a remux or a transcode for a file and a client's capabilities; audio.py
makes progressive audio streams, hls.py HLS renditions of video; cache.py keeps what they made, bounded;
service.py ties them together for the API (and, later, the Subsonic API); tasks.py registers their
housekeeping with jobs/. The encoders are ffmpeg child processes held by jobs/processes.py.
"""
