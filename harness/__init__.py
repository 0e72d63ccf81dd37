"""progress-conformance: the conformance harness for job-progress protocols."""

__version__ = "0.1.0"
