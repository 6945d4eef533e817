"""Notification delivery: routes alert notices to Zalo OA groups and Zalo Bot chats through a SQL outbox.

Import `hub.notify.service.Notifier` directly; this package file stays empty so that hub.config can import
hub.notify.config without pulling in the service (and hub.config) again.
"""
