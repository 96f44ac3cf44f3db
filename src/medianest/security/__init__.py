"""Security: stored-secret encryption, rate limits, response headers, body and time limits, proxies."""
