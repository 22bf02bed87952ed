"""Settings declared once, each with its help text; overridable by environment (prefix DJ_)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DJ_", extra="ignore")

    db_path: Path = Field(ROOT / "data" / "dangjian.duckdb", description="DuckDB database file")
    archive_dir: Path | None = Field(
        None, description="Folder of archived original workbooks (by SHA-256) and their manifest; default: "
                          "<db>.archive beside the database file, one per database"
    )
    demo_dir: Path = Field(ROOT / "data" / "demo", description="Folder the demo workbooks are written to")
    guide_path: Path = Field(ROOT / "indicator_guide.yaml", description="The indicator guide")
    demo_seed: int = Field(2026, description="Seed of the built-in demo school")
    demo_branches: int = Field(80, ge=2, description="Branches of the demo school built when no database exists")
    demo_quarters: int = Field(6, ge=1, description="Quarters of the demo school, ending with the latest completed one")
    lock_timeout_s: float = Field(10.0, description="How long a writer waits for a busy database before giving up")
    view_password_required: bool = Field(False, description="Whether viewing the dashboard needs a password")
    scoring_threads: int = Field(1, description="DuckDB threads per scoring connection (1 measured fastest on 2 cores)")
    max_upload_files: int = Field(400, description="Most workbooks accepted in one upload batch")
    archive_link_ttl_s: float = Field(
        60.0, gt=0, description="Seconds a download link of an archived original keeps working after its first "
        "download; it stops at once at sign-out or when the admin's browser disconnects (pipelines.archive_links)"
    )

    def archive_for(self, db_path: Path) -> Path:
        """The archive of this database: DJ_ARCHIVE_DIR when set, else `<db>.archive` (e.g. dangjian.duckdb.archive)."""
        return self.archive_dir or Path(str(db_path) + ".archive")


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
