"""The public column lists of the scoring API (docs/design.md "Scoring"); extra columns follow these."""
from __future__ import annotations

DIMENSION_COLUMNS = [f"d{i}" for i in range(1, 8)]
CONTRIBUTION_COLUMNS = [f"c{i}" for i in range(1, 8)]

MEASURE_COLUMNS = ["branch_code", "item_id", "measure_id", "measure_name", "kind", "actual", "required",
                   "completion", "status", "weight"]
ITEM_COLUMNS = ["branch_code", "item_id", "indicator_id", "dimension_id", "completion", "pending", "flagged",
                "self_status", "evidence"]
BRANCH_COLUMNS = ["branch_code", "branch_name", "branch_type", "college", "members", *DIMENSION_COLUMNS,
                  "overall", "grade", "rank", "rank_in_type", "rank_in_college", "prev_overall", "delta",
                  "prev_rank", "rank_change", "version", "guide_version"]
SCORE_HISTORY_COLUMNS = ["period", "branch_code", "branch_name", "branch_type", "college", *DIMENSION_COLUMNS,
                         "overall", "rank"]
# branch_scores columns that compare a period with the one before it
CHANGE_COLUMNS = ["prev_overall", "delta", "prev_rank", "rank_change"]
