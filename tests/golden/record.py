"""Record the digests of the pinned reports: `python -m tests.golden.record [OUTDIR]`.

With OUTDIR, the reports themselves are kept there too (to compare a changed one by eye)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .test_golden import DIGESTS, report_digest
from .runs import runs


def main() -> None:
    keep = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    digests = {}
    for name, args in sorted(runs().items()):
        digests[name] = report_digest(args, keep / name if keep else None)
        print(name, digests[name][:12], flush=True)
    DIGESTS.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
