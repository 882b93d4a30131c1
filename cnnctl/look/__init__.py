"""Commands that look at finished runs: `report` writes one self-contained HTML page of one or more runs."""
