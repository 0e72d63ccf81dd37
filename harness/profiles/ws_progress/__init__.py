"""ws-progress executors (seeds 000, 001); importing this package registers their kinds."""
