"""The 红榜 block (样板支部 / 标杆院系 candidates, pipelines.scoring.honours) for the overview and college pages."""
from __future__ import annotations

import streamlit as st

from pages import common as c


def honours_block(period: str, college: str | None = None, container=None) -> None:
    """A 红榜 subheader and the quarter's candidates (of one college, if given), with the quarters that earned
    them; an info line when there are none."""
    box = container or st
    box.subheader("红榜：样板支部、标杆院系候选", anchor=False)
    df = c.scores("honours.honours_table", period, college=college)
    if df.empty:
        box.info("本季度暂无符合条件的候选。", icon=":material/workspace_premium:")
        return
    box.dataframe(df, hide_index=True, width="stretch")
    box.caption("候选条件见指标指南 honours 一节：例如连续多个季度等次为优秀且无红色预警的支部。")
