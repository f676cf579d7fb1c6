"""How this study was run: the stages of ``euv2mag demo`` from ``stages.json`` (status, run time, options)."""
from __future__ import annotations

from ..html import Page
from ..inputs import read_json

__all__ = ["render"]


def render(page: Page, ctx) -> None:
    """The ``provenance`` section (only when ``stages.json`` exists: a study made by hand has none).

    Parameters
    ----------
    page : Page
        The report page.
    ctx : ReportContext
        Shared inputs.
    """
    lay = ctx.layout
    stages = read_json(lay.stages)
    if not isinstance(stages, dict) or not isinstance(stages.get("stages"), dict):
        return
    sec = page.section("provenance", "How this study was run")
    rows = [[name, s.get("status", "—"), s.get("seconds")] for name, s in stages["stages"].items() if isinstance(s, dict)]
    extra = ", ".join(f"{k} = {v}" for k, v in (stages.get("options") or {}).items())
    run = stages.get("run") if isinstance(stages.get("run"), dict) else {}
    cpu = (f" and {run['cpu_seconds']} s of CPU (the demo and its workers)" if run.get("cpu_seconds") is not None else "")
    steal = (f"; meanwhile the machine's hypervisor took {100 * run['steal_fraction']:.1f} % of its CPU time (steal: "
             "run times on a shared virtual machine depend on it)" if run.get("steal_fraction") is not None else "")
    wall = (f" Stages ran side by side in {run.get('processes')} worker processes, one CPU thread each; in the last run "
            f"they took {run.get('wall_seconds')} s wall{cpu} before this report{steal}."
            if run.get("wall_seconds") is not None else "")
    sec.table(["stage", "status", "seconds"], rows,
              "Stages of euv2mag demo and their run times (from the first call's start to the last call's end)"
              + (f" (options: {extra})" if extra else "") + "." + wall,
              [lay.rel(lay.stages)], table_id="stages-table")
