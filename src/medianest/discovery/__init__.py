"""Finding media on other sites: words in, videos out, from YouTube (yt-dlp's search, no API key) and
Dailymotion (its public Data API), each a provider behind one small interface (`providers.Provider`), so a
new site is one module. `service.RemoteSearch` asks them, caches their answers briefly, and degrades to
the sites that answered, with a notice naming the one that did not. Nothing here downloads: a result's
URL goes to the downloads capability like a pasted link."""
