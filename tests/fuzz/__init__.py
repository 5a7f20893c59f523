"""Property-based tests (hypothesis) of every public call: the strategies (``strategies``), the settings profiles,
per-example watchdog and figures (``harness``), and the markdown report of a full run (``report``)."""
