"""The ledger and count rows that support a self-assessed answer (scoring.evidence_rows), as 支部画像 and 审核
show them."""
from __future__ import annotations

import streamlit

from pages import common as c
from pipelines.guide.vocab import TraceSource



def evidence_section(code: str, period: str, item: str, key: str, container=None, rows=None) -> None:
    """The ledger and count rows that support a branch's self-assessment of `item` (its evidence link), with a
    caption saying what was looked for and where; nothing for an item without a link. `rows`: the branch's
    scoring.evidence_rows when the caller has them already (the 审核 page's board)."""
    st = container or streamlit
    ev = c.guide().item(item).evidence
    if ev is None:
        return
    rows = c.scores("evidence_rows", period, code) if rows is None else rows
    rows = rows[rows["item_id"] == item]
    acts = "、".join([c.guide().activity_name(a) for a in ev.activities]
                    + [f.name for f in c.guide().count_fields if f.id in ev.counts])
    window = "本季度" if ev.scope == "quarter" else "本年度截至本季度"
    if rows.empty:
        st.caption(f"自评佐证：{window}台账/统计数据中没有“{acts}”的记录，“完成”按“基本完成”计分，待审核认定。")
        return
    st.caption(f"自评佐证：{window}“{acts}”记录 {len(rows)} 行（“完成”据此有台账佐证）。")
    g, fields = c.guide(), {f.id: f.name for f in c.guide().count_fields}
    rows = rows.assign(activity_type=rows["activity_type"].map(lambda a: g.activity_name(a) if isinstance(a, str) else a),
                       field=rows["field"].map(lambda f: fields.get(f, f) if isinstance(f, str) else f))
    show = rows.drop(columns=["item_id"]).rename(columns={
        "source": "佐证来源", "period": "报送季度", "sheet": "工作表", "row_no": "行号", "date": "日期",
        "activity_type": "活动类型", "topic": "主题", "evidence": "佐证材料", "field": "统计项", "value": "数值"})
    show["佐证来源"] = show["佐证来源"].map(TraceSource.labels()).fillna(show["佐证来源"])
    show = show.loc[:, [col for col in show.columns if show[col].notna().any()]]
    st.dataframe(show.astype(object).where(show.notna(), ""), hide_index=True, width="stretch", key=key)
