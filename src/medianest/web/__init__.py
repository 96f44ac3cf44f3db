"""The browser UI: one HTML page and the ES modules, styles and vendored libraries it loads, served as they
are committed (no build step). It talks to the server only through the public API and Socket.IO."""
