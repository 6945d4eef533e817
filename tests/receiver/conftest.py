"""Tests of the loudspeaker receiver (broadcast/receiver/): playback, its config, its link to the hub."""
