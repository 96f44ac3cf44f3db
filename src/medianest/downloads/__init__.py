"""Downloads: yt-dlp jobs that turn a pasted URL into files in the library."""
