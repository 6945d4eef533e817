"""The loudspeaker receiver agent (`python -m broadcast.receiver`): see docs/RECEIVER.md."""
