"""The one exception type a user sees as a one-line message (the CLI turns it into exit 2)."""


class BenchError(Exception):
    """Bad input or an unusable environment, said in one line that names the problem."""


class WorkloadCheckFailed(BenchError):
    """A workload's self-check after measuring found a wrong result (e.g. a hash mismatch)."""
