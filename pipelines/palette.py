"""The one palette: a restrained Party red with neutral greys, used by the dashboard's charts (pages), the
Streamlit theme (`.streamlit/config.toml`, which a test keeps equal to this), the guide page and the Excel
files (report, workbook template). Colours are '#RRGGBB'; openpyxl wants them without '#' (`excel()`)."""
from __future__ import annotations

RED = "#C8102E"  # Party red: primary colour, highlights, improvements, report title, template headers
DARK_RED = "#8E0C22"
LINK_RED = "#A50E26"
PALE_RED = "#F4E1E4"  # header fill of report tables
INK = "#1F2329"  # text
GREY = "#6B7280"
LIGHT_GREY = "#D1D5DB"  # axes, table borders
LIGHT_GREY_LINE = "#9CA3AF"  # a second reference line beside a coloured one
GRID = "#ECECEE"
SCHOOL_COLOR = "#374151"  # the school average
UP_COLOR = RED  # improvements
DOWN_COLOR = "#B45309"  # declines: a warning amber, so a fall reads as bad news (grey read as neutral)
# Grade colours in the guide's grade order (优秀, 良好, 一般, 较差): bars say the grade without a legend.
GRADE_COLORS = [DARK_RED, RED, GREY, DOWN_COLOR]
PAPER = "#FFFFFF"
PANEL = "#F4F4F5"  # Streamlit's secondary background
SIDEBAR = "#F7F3F3"

TEACHER = "#2B4C7E"
STUDENT = "#D4A017"
TYPE_COLORS = {"teacher": TEACHER, "student": STUDENT}  # the same two colours on every chart

# Default trace colours (plotly template colorway and Streamlit's chartCategoricalColors).
CATEGORICAL = [RED, TEACHER, STUDENT, SCHOOL_COLOR, LIGHT_GREY_LINE, DARK_RED, "#E5A3AD", "#111827"]
# Lines of colleges or branches: distinct but muted, never the two type colours (navy, gold).
LINE_PALETTE = [RED, SCHOOL_COLOR, "#0F766E", "#9A3412", "#6D28D9", "#E27B8C", LIGHT_GREY_LINE, "#65A30D",
                DARK_RED, "#0E7490"]
# Streamlit's chartSequentialColors: pale (low) to dark red (high).
SEQUENTIAL = ["#FBEFF1", "#F5D3D9", "#EBA9B4", "#DE7A8B", "#CF4A62", RED, LINK_RED, "#820B1E", "#5E0816", "#3B050E"]
# Sequential scale for scores on heat maps: pale grey (low) to Party red (high).
SCORE_SCALE = [[0.0, "#F3F4F6"], [0.45, "#F2C4CC"], [0.75, "#DB6177"], [1.0, DARK_RED]]
# The seven dimensions on the guide page's sunburst: reds fading to greys.
DIMENSION_COLORS = [DARK_RED, "#B3122E", RED, "#D9485F", "#E27B8C", LIGHT_GREY_LINE, GREY]


def excel(color: str) -> str:
    """'#C8102E' → 'C8102E', as openpyxl takes colours."""
    return color.removeprefix("#")
