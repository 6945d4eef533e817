"""Live announcements from an officer's phone: the session rules, the hub's audio engine (ffmpeg feeding a
supervised Snapcast server, recording what went out). docs/BROADCAST.md "Live from the phone"."""
