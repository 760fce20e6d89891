"""Items to embedded batches: still items (batches.py) and time-based media, a file cut into timed segments (the
segment schema and the audio/video mapper)."""
