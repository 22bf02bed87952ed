"""The floor of bench/bench_pages.py: a Streamlit page holding one plotly radar of seven axes, nothing else —
what any dashboard page costs at least (Streamlit's bundle, one script run, one plotly chart). Pages are measured
as ratios against it, in the same run. Run by the bench as `streamlit run bench/floor_app.py`."""
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="底线", layout="wide")
st.title("底线页面")
axes = ["政治建设", "思想建设", "组织建设", "作风建设", "纪律建设", "制度建设", "党建引领"]
values = [82.5, 76.0, 91.2, 68.4, 88.0, 73.1, 80.3]
fig = go.Figure(go.Scatterpolar(r=values + values[:1], theta=axes + axes[:1], mode="lines+markers", fill="toself"))
fig.update_layout(height=420, polar=dict(radialaxis=dict(range=[0, 100])), showlegend=False)
st.plotly_chart(fig, width="stretch")
