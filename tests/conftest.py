"""Suite-wide: the chain key (checker.store.keys) of every ledger and decision log the tests
write is a throwaway one, never the user's own (~/.config/qinqing/chain.key)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

if not os.environ.get("QINQING_KEY_FILE"):
    os.environ["QINQING_KEY_FILE"] = str(Path(tempfile.mkdtemp(prefix="qinqing-key-")) / "chain.key")
