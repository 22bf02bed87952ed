"""How much each part of the guide weighs in a score: a dimension in the overall score, an item in a branch type's
overall score (shares multiply down the tree), a measure in its item. The numbers 指标指南 shows beside the tree and
in its sunburst; they are the weights the marts score with (guide relations in session.py), renormalised over what
applies to the branch type."""
from __future__ import annotations

import pandas as pd

from pipelines.guide import guide

WEIGHT_SHARE_COLUMNS = ["dimension_id", "dimension", "indicator", "item", "dim_share", "ind_share", "item_share",
                        "indicator_overall", "overall"]


def dimension_shares() -> dict[int, float]:
    """Each dimension's share (0–1) of the overall score, by dimension id."""
    dims = guide().dimensions
    total = sum(d.weight for d in dims)
    return {d.id: d.weight / total for d in dims}


def indicator_shares() -> dict[str, float]:
    """Each indicator's share (0–1) of its dimension's score, by indicator id (every indicator of the dimension;
    weight_shares renormalises over those that apply to a branch type)."""
    out = {}
    for d in guide().dimensions:
        total = sum(i.weight for i in d.indicators)
        out.update({i.id: i.weight / total for i in d.indicators})
    return out


def weight_shares(branch_type: str) -> pd.DataFrame:
    """Every item that applies to `branch_type`, in guide order, with its shares (0–1): dim_share (the
    dimension's of the overall score), ind_share (the indicator's of its dimension, among the indicators with an
    item of this type), item_share (the item's of its indicator, among its items of this type) and overall (their
    product: the item's share of the type's overall score; the items of a type add up to 1) and indicator_overall
    (the indicator's share of it). dimension is "<id> <short name>"."""
    g = guide()
    dims = dimension_shares()
    rows = []
    for d in g.dimensions:
        inds = [i for i in d.indicators if any(it.applies(branch_type) for it in i.items)]
        ind_total = sum(i.weight for i in inds)
        for ind in inds:
            items = [it for it in ind.items if it.applies(branch_type)]
            item_total = sum(it.weight for it in items)
            for it in items:
                rows.append({"dimension_id": d.id, "dimension": f"{d.id} {d.short}", "indicator": ind.id,
                             "item": it.id, "dim_share": dims[d.id], "ind_share": ind.weight / ind_total,
                             "item_share": it.weight / item_total,
                             "indicator_overall": dims[d.id] * ind.weight / ind_total,
                             "overall": dims[d.id] * ind.weight / ind_total * it.weight / item_total})
    return pd.DataFrame(rows, columns=WEIGHT_SHARE_COLUMNS)


def measure_shares(item_id: str) -> dict[str, float]:
    """Each measure's share (0–1) of its item's completion, by measure id."""
    ms = guide().item(item_id).measures
    total = sum(m.weight for m in ms)
    return {m.id: m.weight / total for m in ms}
