"""The self-check web page and HTTP API (`qinqing serve`): access control, intake, verdicts, the decision log."""
