"""Scoring: measure → item → indicator → dimension → overall, rankings and comparisons — the one query API.

Every number is derived at query time from the staging views (current submissions only) and the current
guide, so a changed weight in indicator_guide.yaml re-scores every quarter consistently. The logic lives in
`pipelines/scoring/sql/marts/*.sql` (one mart per file, a chain of named CTEs ending in `final`); the guide
enters as small registered relations (`g_measures`, `g_items`, …), so no item id, weight or value is written in
SQL. Each public function opens one short read connection under the database lock.

Pages, the report and the CLI call `from pipelines import scoring; scoring.branch_scores(...)`; the modules:
  rounding  the one rounding rule (SHOWN_DECIMALS, the SQL macros and their Python twins)
  columns   the public column lists
  session   the guide as relations, the read session that builds the chain, periods
  shapes    one reader and one shape per mart; marts() (every mart of a quarter at once)
  branch    per-branch marts and the rows behind a number
  compare   colleges, items per branch type, branch types side by side, group means
  history   scores across quarters, change and movers
  college   a college's profile and submission progress
  weights   each dimension's, item's and measure's share of a score
  review    the review (审核) queue, its progress, the sent-back answers, the history of decisions
  cli       `python -m pipelines scores`
Read-side analytics built on the marts: alerts (预警), honours (表彰), attention (需关注).

The method, in Chinese for the 组织部, is in docs/scoring.md.
"""
from __future__ import annotations

from pipelines.scoring.branch import (branch_scores, evidence_rows, has_registry, indicator_scores, item_scores,
                                      measure_scores, rankings, scored_answers, submission_status, trace)
from pipelines.scoring.college import (college_items, college_radar, item_shortfalls, missing_contacts,
                                       submission_progress)
from pipelines.scoring.columns import (BRANCH_COLUMNS, CHANGE_COLUMNS, CONTRIBUTION_COLUMNS, DIMENSION_COLUMNS,
                                       ITEM_COLUMNS, MEASURE_COLUMNS, SCORE_HISTORY_COLUMNS)
from pipelines.scoring.compare import (college_scores, dimension_spread, group_means, item_summary,
                                       item_type_comparison, type_comparison)
from pipelines.scoring.history import (branch_history, college_history, history, movers, score_change,
                                       score_history)
from pipelines.scoring.review import (REVIEW_PROGRESS_COLUMNS, REVIEW_QUEUE_COLUMNS, ReviewBoard, review_board,
                                      review_colleges, review_history, review_progress, review_queue, review_state,
                                      sent_back, support_label)
from pipelines.scoring.rounding import (SHOWN_DECIMALS, half_up, percent, shown, shown_change, shown_percent,
                                        shown_share)
from pipelines.scoring.session import FLAG_MESSAGES, SQL_DIR, guide_frames, latest_period, periods
from pipelines.scoring.shapes import marts
from pipelines.scoring.weights import dimension_shares, indicator_shares, measure_shares, weight_shares

__all__ = [
    # rounding
    "SHOWN_DECIMALS", "half_up", "shown", "percent", "shown_change", "shown_share", "shown_percent",
    # columns
    "DIMENSION_COLUMNS", "CONTRIBUTION_COLUMNS", "MEASURE_COLUMNS", "ITEM_COLUMNS", "BRANCH_COLUMNS",
    "SCORE_HISTORY_COLUMNS", "CHANGE_COLUMNS", "FLAG_MESSAGES",
    # the guide as relations, periods
    "SQL_DIR", "guide_frames", "periods", "latest_period",
    # per branch
    "measure_scores", "item_scores", "indicator_scores", "branch_scores", "rankings", "submission_status",
    "has_registry", "trace", "scored_answers", "evidence_rows", "marts",
    # comparisons
    "college_scores", "item_summary", "type_comparison", "item_type_comparison", "dimension_spread", "group_means",
    # history
    "history", "score_history", "branch_history", "score_change", "movers", "college_history",
    # colleges
    "college_items", "college_radar", "submission_progress", "missing_contacts", "item_shortfalls",
    # the guide's weights as shares
    "dimension_shares", "indicator_shares", "weight_shares", "measure_shares",
    # review (审核)
    "REVIEW_QUEUE_COLUMNS", "REVIEW_PROGRESS_COLUMNS", "ReviewBoard", "review_board", "review_colleges", "review_queue",
    "review_progress", "sent_back", "review_history", "review_state", "support_label",
]
