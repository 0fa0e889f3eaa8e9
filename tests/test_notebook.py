"""The walkthrough notebook runs top to bottom (its code cells, in order, in one namespace)."""

import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"


def test_walkthrough_runs_top_to_bottom() -> None:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    namespace: dict = {}
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert len(code) >= 5
    for cell in code:
        exec(compile("".join(cell["source"]), str(NOTEBOOK), "exec"), namespace)
    assert namespace["result"].status == "ok"
    assert namespace["result"].top1 > 0.2  # synthetic data, 10 classes: chance is 0.1
    assert (1.2, 1.1, 1.15) in {(c.alpha, c.beta, c.gamma) for c in namespace["candidates"]}
    ranking = namespace["ranking"]
    assert len(ranking.table) == 4 and ranking.noise.n_groups == 1  # the probe's seeds give the noise
    assert bool(ranking.table["tied_with_best"].iloc[0])
