"""Tests of the notifier (hub/notify/): texts and routing, delivery against the fake Zalo server, the digest, its pages."""
