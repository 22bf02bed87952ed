"""DuckDB access: schema, connections and the inter-process lock.

DuckDB lets one process write a file at a time, and a read-write connection blocks readers in other
processes. So every connection here is short-lived and taken under a file lock beside the database:
writers (ingest, rollback, registry) hold it for as short as they can (ingest gives it back between
slices of a few files), readers for one query batch. A caller that finds the lock busy waits up to
`settings().lock_timeout_s` and then gets `DatabaseBusy` with a clear Chinese message.

The data version (a counter bumped after committed writes that change data; audit rows alone do not)
lives in a sidecar file, so pages can key their caches on it without opening the database. A batch
(ingest) bumps it once at its end, so pages keep serving their cached results while it writes.
"""
from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from pipelines.config import settings

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS load_seq START 1;
CREATE SEQUENCE IF NOT EXISTS submission_seq START 1;

-- Databases made before loads was folded into submissions: every loads row repeated its submission's
-- load_id, file_name, sha256, uploaded_at and uploaded_by, so nothing is lost.
DROP TABLE IF EXISTS loads;

-- One row per version of a branch-quarter workbook (报送), i.e. per file written by ingest (accepted or
-- replaced): load_id (the raw_* rows' load), file_name, sha256, uploaded_at and uploaded_by describe that
-- file. status: current | superseded | rolled_back | withdrawn.
CREATE TABLE IF NOT EXISTS submissions (
    submission_id BIGINT PRIMARY KEY,
    load_id       BIGINT NOT NULL,
    branch_code   VARCHAR NOT NULL,
    year          INTEGER NOT NULL,
    quarter       INTEGER NOT NULL,
    period        VARCHAR NOT NULL,
    version       INTEGER NOT NULL,
    file_name     VARCHAR NOT NULL,
    sha256        VARCHAR NOT NULL,
    uploaded_at   TIMESTAMP NOT NULL,
    uploaded_by   VARCHAR NOT NULL,
    status        VARCHAR NOT NULL
);

-- Raw tables: exactly what the reader produced, keyed by submission, with source file and sheet row.
CREATE TABLE IF NOT EXISTS raw_info (
    submission_id BIGINT NOT NULL,
    load_id       BIGINT NOT NULL,
    source_file   VARCHAR NOT NULL,
    branch_code   VARCHAR NOT NULL,
    branch_name   VARCHAR NOT NULL,
    college       VARCHAR NOT NULL,
    branch_type   VARCHAR NOT NULL,
    year          INTEGER NOT NULL,
    quarter       INTEGER NOT NULL,
    members       INTEGER NOT NULL,
    secretary     VARCHAR,
    filled_by     VARCHAR,
    filled_on     DATE
);

CREATE TABLE IF NOT EXISTS raw_ledger (
    submission_id BIGINT NOT NULL,
    load_id       BIGINT NOT NULL,
    source_file   VARCHAR NOT NULL,
    sheet         VARCHAR NOT NULL,
    row_no        INTEGER NOT NULL,
    date          DATE NOT NULL,
    activity_type VARCHAR NOT NULL,
    activity_raw  VARCHAR,
    topic         VARCHAR,
    expected      INTEGER,
    attended      INTEGER,
    hours         DOUBLE,
    evidence      VARCHAR
);

CREATE TABLE IF NOT EXISTS raw_counts (
    submission_id BIGINT NOT NULL,
    load_id       BIGINT NOT NULL,
    source_file   VARCHAR NOT NULL,
    sheet         VARCHAR NOT NULL,
    row_no        INTEGER NOT NULL,
    field         VARCHAR NOT NULL,
    value         DOUBLE
);

CREATE TABLE IF NOT EXISTS raw_self_assessment (
    submission_id BIGINT NOT NULL,
    load_id       BIGINT NOT NULL,
    source_file   VARCHAR NOT NULL,
    sheet         VARCHAR NOT NULL,
    row_no        INTEGER NOT NULL,
    item_id       VARCHAR NOT NULL,
    status        VARCHAR,
    evidence      VARCHAR
);

-- Warnings of accepted files (errors never reach the database).
CREATE TABLE IF NOT EXISTS raw_problems (
    submission_id BIGINT NOT NULL,
    severity      VARCHAR NOT NULL,
    code          VARCHAR NOT NULL,
    sheet         VARCHAR,
    cell          VARCHAR,
    value         VARCHAR,
    message       VARCHAR NOT NULL
);

-- The branch registry (支部名册): every branch expected to submit.
CREATE TABLE IF NOT EXISTS registry (
    branch_code  VARCHAR PRIMARY KEY,
    branch_name  VARCHAR NOT NULL,
    college      VARCHAR NOT NULL,
    branch_type  VARCHAR NOT NULL,
    members      INTEGER NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    secretary_name VARCHAR,     -- optional: 书记姓名, 联系电话 (催报)
    phone        VARCHAR
);
-- A database made before the optional columns gets them (CREATE TABLE IF NOT EXISTS leaves it as it was).
ALTER TABLE registry ADD COLUMN IF NOT EXISTS secretary_name VARCHAR;
ALTER TABLE registry ADD COLUMN IF NOT EXISTS phone VARCHAR;

-- Who did what (admin actions and CLI writes).
CREATE TABLE IF NOT EXISTS audit_log (
    logged_at TIMESTAMP NOT NULL,
    actor   VARCHAR NOT NULL,
    action  VARCHAR NOT NULL,
    detail  VARCHAR
);

-- The submission deadline of each quarter (报送截止日期), set by an admin; one row per period.
CREATE TABLE IF NOT EXISTS deadlines (
    period    VARCHAR PRIMARY KEY,
    due_date  DATE NOT NULL,
    set_by    VARCHAR NOT NULL,
    set_at    TIMESTAMP NOT NULL
);

-- 督办 (follow-up) tasks an admin opened from an alert (rule_id) or a weak item (item_id), for one branch
-- (branch_code, with its college at opening) or a whole college (branch_code NULL); journaled writes of
-- pipelines/store/followup.py, so `rebuild` keeps them. Their 整改 status is computed from later quarters' data.
CREATE TABLE IF NOT EXISTS followups (
    id            BIGINT PRIMARY KEY,
    branch_code   VARCHAR,
    college       VARCHAR NOT NULL,
    period        VARCHAR NOT NULL,
    rule_id       VARCHAR,
    item_id       VARCHAR,
    note          VARCHAR NOT NULL,
    due_date      DATE,
    opened_by     VARCHAR NOT NULL,
    opened_at     TIMESTAMP NOT NULL,
    closed_by     VARCHAR,
    closed_at     TIMESTAMP,
    close_comment VARCHAR
);

-- Review (审核) decisions on self-assessed answers, one row per decision (the history); the current review of
-- an answer is its latest row (stg_reviews). answer_fp is the fingerprint of the judged answer (status and
-- evidence text, stg_self_assessment.answer_fp), so a re-submission that keeps an item's answer keeps its
-- review and one that changes it leaves the item 待审核. submission_id records which version was judged.
-- decision: an answer id of the guide (认定完成 …) or sent_back (退回补充).
CREATE SEQUENCE IF NOT EXISTS review_seq START 1;
CREATE TABLE IF NOT EXISTS reviews (
    review_id     BIGINT PRIMARY KEY,
    branch_code   VARCHAR NOT NULL,
    period        VARCHAR NOT NULL,
    item_id       VARCHAR NOT NULL,
    answer_fp     VARCHAR NOT NULL,
    submission_id BIGINT NOT NULL,
    decision      VARCHAR NOT NULL,
    comment       VARCHAR NOT NULL,
    reviewer      VARCHAR NOT NULL,
    decided_at    TIMESTAMP NOT NULL
);

-- The manifest txn id of every committed write (see pipelines/store/archive.py), so an intent a crash left in the
-- manifest without its commit line can be settled against the database.
CREATE TABLE IF NOT EXISTS journal (
    txn       VARCHAR PRIMARY KEY,
    action    VARCHAR NOT NULL,
    logged_at TIMESTAMP NOT NULL
);

"""

# Staging views, one SQL file each in scoring/sql/staging/ (they only select, rename and normalise; the marts in
# scoring/sql/marts/ read them), created after the tables in this order (stg_submissions first: the others join it).
STAGING_DIR = Path(__file__).resolve().parents[1] / "scoring" / "sql" / "staging"
STAGING_VIEWS = ("stg_submissions", "stg_ledger", "stg_counts", "stg_self_assessment", "stg_reviews")
SCHEMA += "".join(f"\nCREATE OR REPLACE VIEW {name} AS\n{(STAGING_DIR / (name + '.sql')).read_text('utf-8')};\n"
                  for name in STAGING_VIEWS)


SCHEMA_FINGERPRINT = hashlib.sha256(SCHEMA.encode()).hexdigest()[:16]

# What this version added for reviews, re-created as temp objects when a reader meets an older database
_REVIEWS_DDL = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS reviews"):].split(";")[0]
_REVIEW_VIEWS = ("stg_self_assessment", "stg_reviews")


def readable(con: duckdb.DuckDBPyConnection) -> None:
    """Let a reader score a database an older version wrote, as it is (readers run no DDL on the file): the
    reviews table and the staging views that read it become empty/current temp objects of this connection,
    shadowing the file's own until the first write connection updates its schema."""
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'reviews'").fetchall()[0][0]:
        return
    con.execute(_REVIEWS_DDL.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE"))
    for name in _REVIEW_VIEWS:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {(STAGING_DIR / (name + '.sql')).read_text('utf-8')}")


class DatabaseBusy(Exception):
    """Another writer held the database longer than we were willing to wait."""


def db_path(path: str | Path | None = None) -> Path:
    return Path(path or settings().db_path)


def _lock(path: Path) -> FileLock:
    return FileLock(str(path) + ".lock")


def _version_file(path: Path) -> Path:
    return Path(str(path) + ".version")


def data_version(path: str | Path | None = None) -> int:
    """A counter bumped by every committed write; 0 when the database has never been written."""
    try:
        return int(_version_file(db_path(path)).read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def busy_message(path: Path, waited_s: float) -> str:
    """The Chinese message of DatabaseBusy; a sub-second wait says 不到 1 秒, not 0 秒."""
    waited = "不到 1 秒" if waited_s < 1 else f" {round(waited_s, 1):g} 秒"
    return f"数据库正被其他程序写入（{path.name}），已等待{waited}仍未释放。请稍后重试。"


def bump_version(path: str | Path | None = None) -> None:
    """Tell the pages that the data changed (call under the lock, after the commit)."""
    _version_file(db_path(path)).write_text(str(data_version(path) + 1))


@contextlib.contextmanager
def locked(path: str | Path | None = None, *, timeout: float | None = None) -> Iterator[Path]:
    """Hold the database lock without opening DuckDB (e.g. to swap in a rebuilt file); yields the path.

    Raises DatabaseBusy with a clear Chinese message when the lock is not free within the timeout.
    """
    path = db_path(path)
    timeout = settings().lock_timeout_s if timeout is None else timeout
    lock = _lock(path)
    try:
        lock.acquire(timeout=timeout)
    except Timeout as e:
        raise DatabaseBusy(busy_message(path, timeout)) from e
    try:
        yield path
    finally:
        lock.release()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create or update the schema, skipping the DDL when the stored fingerprint already matches."""
    try:
        row = con.execute("SELECT fingerprint FROM schema_meta").fetchone()
    except duckdb.CatalogException:
        row = None
    if row and row[0] == SCHEMA_FINGERPRINT:
        return
    con.execute(SCHEMA)
    con.execute("CREATE OR REPLACE TABLE schema_meta AS SELECT ? AS fingerprint", [SCHEMA_FINGERPRINT])


@contextlib.contextmanager
def connect(path: str | Path | None = None, *, write: bool = False, timeout: float | None = None,
            changes_data: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection under the database lock.

    With write=True the schema is ensured, the body runs in one transaction (rolled back on any
    exception) and the data version is bumped after commit, unless changes_data=False (a write no page
    shows from its cache, such as an audit row of a sign-in: it must not make every viewer recompute).
    """
    with locked(path, timeout=timeout) as path:
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(path))
            try:
                ensure_schema(con)
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            finally:
                con.close()
            if changes_data:
                bump_version(path)
        else:
            if not path.exists():
                # An empty in-memory database with the schema, so readers see empty tables, not errors.
                con = duckdb.connect()
                con.execute(SCHEMA)
            else:
                con = duckdb.connect(str(path), read_only=True)
            try:
                yield con
            finally:
                con.close()


def query_df(sql: str, params: list | dict | None = None, path: str | Path | None = None):
    """Run one parameterised read query and return a pandas DataFrame."""
    with connect(path) as con:
        return con.execute(sql, params or []).df()
