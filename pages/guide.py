"""指标指南: the indicator guide as a browsable tree, with weights and how a score is made."""
from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from pages import common as c  # noqa: E402
from pages import charts  # noqa: E402
from pages import state  # noqa: E402
from pages.fragments import opened, part  # noqa: E402
from pages.text import md_text  # noqa: E402
from pipelines import scoring  # noqa: E402
from pipelines.guide import guide  # noqa: E402
from pipelines.guide.vocab import MeasureKind  # noqa: E402


def requirement_text(m) -> str:
    """The requirement of one measure, in words a secretary uses."""
    g = guide()
    act = f"“{g.activity_name(m.activity)}”" if m.activity else ""
    counts = {f.id: f.name for f in g.count_fields}
    kind = m.kind
    if kind == "monthly":
        return f"每月至少开展 1 次{act}"
    if kind == "quarterly":
        return f"每季度至少开展 1 次{act}"
    if kind == "semester":
        return f"每学期末开展 1 次{act}（一年 2 次）"
    if kind == "annual_count":
        return f"每年至少 {m.required:g} 次{act}"
    if kind == "hours":
        return f"{act}每名党员每年不少于 {m.required:g} 学时"
    if kind == "annual_coverage":
        return f"每名党员每年至少 1 次（按统计数据“{counts.get(m.count, m.count)}”÷ 党员数）"
    if kind == "ratio":
        return f"统计数据“{counts.get(m.numerator, m.numerator)}”÷“{counts.get(m.denominator, m.denominator)}”"
    return "按完成 / 基本完成 / 未完成自评，并填写佐证材料"


@charts.kept
def sunburst(w: pd.DataFrame) -> go.Figure:
    """Dimension → indicator → item, sized by each item's share of the overall score (scoring.weight_shares);
    the percentages written on it are the shown ones (scoring.percent), the sizes the exact shares."""
    ids, labels, parents, values, shares = [], [], [], [], []
    for dim, dg in w.groupby("dimension", sort=False):
        # a sector's size is the sum of its children (branchvalues="total" wants no less); its label the share
        ids.append(dim); labels.append(dim); parents.append(""); values.append(dg["overall"].sum())
        shares.append(dg["dim_share"].iloc[0])
        for ind, ig in dg.groupby("indicator", sort=False):
            ids.append(f"{dim}/{ind}"); labels.append(ind); parents.append(dim); values.append(ig["overall"].sum())
            shares.append(ig["indicator_overall"].iloc[0])
            for _, r in ig.iterrows():
                ids.append(f"{dim}/{ind}/{r['item']}"); labels.append(r["item"]); parents.append(f"{dim}/{ind}")
                values.append(r["overall"]); shares.append(r["overall"])
    palette = charts.DIMENSION_COLORS
    dims = list(dict.fromkeys(w["dimension"]))
    colors = [palette[dims.index(i.split("/")[0]) % len(palette)] for i in ids]
    fig = go.Figure(go.Sunburst(
        ids=ids, labels=labels, parents=parents, values=values, branchvalues="total",
        customdata=[[scoring.percent(v, 1), scoring.percent(v, 2)] for v in shares],
        marker=dict(colors=colors, line=dict(color="white", width=1.5)),
        texttemplate="%{label}<br>%{customdata[0]}", insidetextorientation="horizontal",
        hovertemplate="%{label}<br>占总分 %{customdata[1]}<extra></extra>",
    ))
    fig.update_layout(height=460, margin=dict(l=0, r=0, t=10, b=10))
    return fig


def method() -> None:
    """How a score is made, in steps, with the guide's own numbers."""
    g = guide()
    answers = "、".join(f"{s.name} = {s.value:g}" for s in g.self_assessment)
    fallback = next(s.name for s in g.self_assessment if s.id == g.self_assessment_without_evidence)
    grades = "；".join(
        f"{gr.name}：{gr.min:g} 分及以上" if gr.min > 0 else f"{gr.name}：{g.grades[i - 1].min:g} 分以下"
        for i, gr in enumerate(g.grades)
    )
    st.markdown(
        f"""
1. **测评规则 → 完成率（0–100%）**：每个考核要点由一条或多条测评规则计算。按活动台账计数的规则（每月、每季度、每学期、每年）
   统计本年度截至所选季度末的次数；人均学时 = 台账中相应活动的“学时 × 实到人数”之和 ÷ 党员数（本年累计），
   全年学时要求按季度进度分摊（第 1—4 季度末分别应达全年的 1/4、2/4、3/4、全部）；党员覆盖率、比例按“统计数据”表计算；
   自评规则取支部自评：{answers}。
   自评为“完成”的，须有台账佐证或经组织部审核认定才按“完成”计，否则按“{fallback}”计并标记“待核实”（见下方“自评的佐证、审核与核实率”）。
2. **未到期**：年度要求在全年结束前尚未到期的，若还没有完成，记为“未到期”，不扣分、不计入。
3. **考核要点完成率** = 各测评规则完成率按其权重加权平均（未到期的不计入）。
4. **二级指标、一级指标得分（0–100）** = 下一层完成率按权重加权平均 × 100；只计入适用于该支部类型的考核要点，
   所以教师党支部与学生党支部的满分相同、可以比较。
5. **总分** = 七个一级指标得分按一级指标权重加权平均，保留一位小数（四舍五入）；等次和排名都按显示的分数确定，
   分数相同的并列。**等次**：{grades}。
"""
    )


def evidence_rows() -> pd.DataFrame:
    """The guide's evidence links (考核要点 → 台账活动类型 / 统计项, scope, the sentence they rest on)."""
    g = guide()
    counts = {f.id: f.name for f in g.count_fields}
    return pd.DataFrame([{
        "考核要点": it.id, "原文依据": f"“{it.evidence.source}”",
        "佐证（台账活动类型 / 统计项）": "、".join([g.activity_name(a) for a in it.evidence.activities]
                                          + [counts[f] for f in it.evidence.counts]),
        "查找范围": "本季度" if it.evidence.scope == "quarter" else "本年累计",
    } for it in g.items if it.evidence], columns=["考核要点", "原文依据", "佐证（台账活动类型 / 统计项）", "查找范围"])


def review_method() -> None:
    """Evidence links, review and 核实率, in Chinese, from the guide's own settings."""
    g = guide()
    fallback = next(s.name for s in g.self_assessment if s.id == g.self_assessment_without_evidence)
    blend = (f"已审核的考核要点按“{scoring.percent(g.review.self_share)} × 自评分值 + "
             f"{scoring.percent(1 - g.review.self_share)} × 认定分值”计分"
             if g.review.blend else "已审核的考核要点按认定结论计分")
    st.markdown(f"""
- **台账佐证**：下表中的考核要点，自评“完成”时到台账或统计数据中查找对应记录；找到即“有台账佐证”，按“完成”计分。
  其余自评考核要点没有台账对应，只能**审核认定**。
- **审核**：组织部对每项自评作出“认定完成 / 认定基本完成 / 认定未完成”或“退回补充”的结论；结论低于自评或退回补充时须填写意见。
  支部重新报送时，答案和佐证都没变的项目保留审核结论，有改动的回到“待审核”。
- **审核页面**：管理员在“审核”页面按风险顺序逐项审核（先看“完成”但无台账佐证的，再看需核实的，再看较上季度提高最多的），
  自评、佐证材料、台账佐证行和上季度自评并排显示，点一次即保存并显示下一项；退回补充的事项可下载每个支部的整改通知，
  在支部重新报送该项之前一直显示“退回补充”。
- **计分**：{blend}；未审核的“完成”若没有台账佐证（或没有台账关联、没有佐证文字、被退回补充），按“{fallback}”计并标记“待核实”。
- **核实率**：分数中来自台账、统计数据计算或经审核认定的权重占比，与得分按同样的权重逐层汇总；核实率低，说明该分数主要是支部自报的。
""")
    st.dataframe(evidence_rows(), hide_index=True, width="stretch")


def render() -> None:
    """The 指标指南 page body."""
    g = guide()
    c.header("指标指南", f"{g.title} · {g.school} · 指南版本 {g.version}")
    n_items = len(g.items)
    n_ind = len(g.indicators)
    cols = st.columns(4)
    cols[0].metric("一级指标", len(g.dimensions))
    cols[1].metric("二级指标", n_ind)
    cols[2].metric("三级指标（考核要点）", n_items)
    cols[3].metric("指南版本", g.version)

    with st.expander("得分是怎样算出来的", expanded=True, icon=":material/calculate:"):
        method()
    review = opened("自评的佐证、审核与核实率", icon=":material/fact_check:", key="guide_review")
    if review:  # drawn when opened: a closed expander's content would be sent all the same
        with review:
            review_method()

    left, right = st.columns([3, 2], gap="large")
    with right:
        st.subheader("各考核要点在总分中的占比", anchor=False)
        btype = state.state_widget("radio", "按支部类型查看", c.type_ids(), "gtype", format_func=c.type_name,
                               horizontal=True)
        w = scoring.weight_shares(btype)
        charts.show(sunburst(w), key="guide_sunburst")
        st.caption("占比 = 一级指标权重占比 × 二级指标权重占比 × 考核要点权重占比；只计入适用于该类支部的考核要点。")
    with left:
        tree(btype, w.set_index("item"))


@part
def tree(btype: str, shares: pd.DataFrame) -> None:
    """The guide as a searchable tree: a dimension per expander, an indicator per heading, an item per card.

    Only open expanders are drawn (on_change="rerun": the cards of a closed one are not sent), and the tree is its
    own fragment, so a search or an opened dimension reruns the tree alone. A search opens every dimension with a
    match (the expanders are keyed by the search, so each new search starts from that)."""
    g = guide()
    st.subheader("指标体系", anchor=False)
    q = st.text_input("搜索考核要点", key="guide_q", placeholder="如：党课、谈心谈话、32 学时、1.2.1")
    q = (q or "").strip()
    shown = 0
    dim_shares, ind_shares = scoring.dimension_shares(), scoring.indicator_shares()
    for d in g.dimensions:
        dim_share = dim_shares[d.id]
        matches = [(ind, it) for ind in d.indicators for it in ind.items
                   if not q or q in it.id or q in it.text or any(q in m.name for m in it.measures)]
        if not matches:
            continue
        box = opened(f"{d.id}. {d.name}　占总分 {scoring.percent(dim_share)}", expanded=bool(q) or d.id == 1,
                     key=f"guide_dim_{d.id}_{q}")
        if box is None:
            shown += len(matches)
            continue
        with box:
            for ind in d.indicators:
                items = [it for i2, it in matches if i2.id == ind.id]
                if not items:
                    continue
                st.markdown(f"**{ind.id}　{ind.name}**　·　占本一级指标 {scoring.percent(ind_shares[ind.id])}")
                for it in items:
                    shown += 1
                    item_card(it, btype, shares)
    if shown == 0:
        st.info(f"没有找到包含“{md_text(q)}”的考核要点，请换一个关键词。", icon=":material/search_off:")


def item_card(it, btype: str, shares: pd.DataFrame) -> None:
    """One item: its types, its share of the chosen type's overall score, its text and its measures."""
    with st.container(border=True):
        applies = " ".join(
            f":red-badge[{c.type_name(t)}]" if t == "teacher" else f":orange-badge[{c.type_name(t)}]"
            for t in it.applies_to)
        share = shares["overall"].get(it.id)
        share_txt = (f"　占{c.type_name(btype)}总分 {scoring.percent(share, 1)}" if share is not None and pd.notna(share)
                     else "")
        st.markdown(f"**{it.id}**　{applies}{share_txt}")
        st.write(it.text)
        for t, text in it.parts.items():
            st.caption(f"{c.type_name(t)}：{text}")
        shares = scoring.measure_shares(it.id)
        st.markdown("\n".join(
            f"- **{m.name}**　{MeasureKind(m.kind).label}　·　{requirement_text(m)}"
            + (f"　·　占本要点 {scoring.percent(shares[m.id])}" if len(it.measures) > 1 else "")
            for m in it.measures))


c.require_entrypoint()
c.run_page(render)
