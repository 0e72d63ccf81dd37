"""ws-progress executors (seeds 000, 001); importing this package registers their kinds."""
from harness.profiles.ws_progress import handshake, jobs, timers  # noqa: F401
