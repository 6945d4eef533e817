"""Content library: stored audio items, their upload and text-to-speech processing (ffmpeg) and tables."""
