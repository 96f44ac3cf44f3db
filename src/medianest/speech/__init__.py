"""Text to speech: a text becomes an audio item in the library, through a provider (offline or Google)."""
