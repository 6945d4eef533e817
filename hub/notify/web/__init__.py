"""The notifier's web side: the outbox API and page, channel status, the OA refresh-token form."""
