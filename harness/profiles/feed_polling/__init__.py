"""feed-polling executors (seed 002); importing this package registers their kinds."""
from harness.profiles.feed_polling import batches, errors, isolation, stateful  # noqa: F401
