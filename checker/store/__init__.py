"""Evidence kept: the ledger of records, the decision log, their keyed hash chains, access tokens."""
