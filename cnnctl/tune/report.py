"""What `cnnctl tune` shows: in a terminal a live table of the trials (parameters, value, state, best so
far) with the running trial's last epoch under it; in logs one line per trial; at the end the best
trial, every trial, and the files written."""

from __future__ import annotations

from typing import Any

from cnnctl.look.study_table import importance_grid, trials_grid
from cnnctl.render import console, grid_table

LIVE_ROWS = 12  # the newest trials the live table shows; the final table shows all


class TuneDisplay:
    def __init__(self, quiet: bool):
        self.out = console()
        self.live_mode = not quiet and self.out.is_terminal
        self.live: Any = None
        self.rows: list[dict[str, Any]] = []
        self.metric, self.title, self.status, self.last_wait = "", "", "", ""
        self.told: set[tuple[int, str]] = set()

    def __enter__(self) -> "TuneDisplay":
        if self.live_mode:
            from rich.live import Live

            self.live = Live(console=self.out, auto_refresh=False, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)
            self.live = None

    def say(self, line: str, kind: str) -> None:
        """Lines from the study and from each trial's training (`train`'s `say`)."""
        if kind == "wait":
            if line == self.last_wait:
                return
            self.last_wait = line
        if self.live is not None:
            if kind in ("info",) and not line.startswith("study "):
                return
            if kind in ("epoch", "trial", "wait", "result"):
                self.status = line
                self._draw()
                return
            self.live.console.print(line, highlight=False)
            return
        if kind in ("epoch", "result") or (kind == "info" and not line.startswith("study ")):
            return
        self.out.print(line, highlight=False)

    def update(self, study: str, metric: str, rows: list[dict[str, Any]]) -> None:
        """After a trial starts or ends: the table anew; in logs, a line for each trial that ended."""
        self.title, self.metric, self.rows = f"study {study}", metric, rows
        if self.live is not None:
            self._draw()
            return
        for r in self.rows:
            if r["state"] in ("complete", "pruned", "fail") and (r["number"], r["state"]) not in self.told:
                self.told.add((r["number"], r["state"]))
                value = "" if r["value"] is None else f" {self.metric} {r['value']:.4f}"
                best = "" if r["best_so_far"] is None else f"; best so far {r['best_so_far']:.4f}"
                outcome = f" ({r['outcome']})" if r.get("outcome") not in (None, "completed", r["state"]) else ""
                self.out.print(f"trial {r['number']}: {r['state']}{outcome}{value}{best}", highlight=False)

    def _draw(self) -> None:
        from rich.console import Group
        from rich.text import Text

        grid = trials_grid(self.rows[-LIVE_ROWS:], self.metric, self.title)
        self.live.update(Group(grid_table(grid), Text(self.status)), refresh=True)

    def finish(self, outcome: Any, record: dict[str, Any]) -> None:
        """The best trial, every trial, importance, and the files written."""
        out = self.out
        rows = record["trials"]
        out.print(grid_table(trials_grid(rows, record["metric"], f"study {record['study']}: all trials")))
        if record["importance"]:
            out.print(grid_table(importance_grid(record["importance"])))
        finished = sum(r["state"] in ("complete", "pruned") for r in rows)
        out.print(f"{finished} finished trials ({sum(r['state'] == 'complete' for r in rows)} completed, "
                  f"{sum(r['state'] == 'pruned' for r in rows)} pruned)", highlight=False)
        best = record["best"]
        if best is None:
            out.print("no trial completed: no best.yaml", highlight=False)
            return
        params = ", ".join(f"{k}={v}" for k, v in best["params"].items())
        out.print(f"best: trial {best['number']}, {record['metric']} {best['value']:.4f} ({params}); run "
                  f"{outcome.folder / best['run']}", highlight=False)
        if best.get("config"):
            out.print(f"wrote {best['config']}: `cnnctl train {best['config']}` trains it again", highlight=False)
        else:
            out.print("best.yaml: the best trial ran on another machine; its config.yaml is in its run folder there",
                      highlight=False)
