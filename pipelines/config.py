"""Settings declared once, each with its help text; overridable by environment (prefix DJ_).

The access settings (admins, view password, admin e-mails) may also come from `.streamlit/secrets.toml` (or
any file given with `streamlit run … --secrets.files`), read through st.secrets so that Streamlit's own
reloading of that file applies; `pipelines.auth.load_access_config` merges the two as each field says.
Streamlit's own `[auth]` section (OIDC) is read by st.login itself; we only detect it.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


ENV_PREFIX = "DJ_"


def split_list(text: str) -> list[str]:
    """'a, b;c' -> ['a', 'b', 'c']: how a list is written in one environment variable."""
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

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
    scoring_threads: int = Field(1, ge=1, description="DuckDB threads of a scoring run (the chain of marts) of a "
                                 "school below scoring_large_from; 1 leaves a core to the viewers")
    scoring_large_threads: int = Field(2, ge=1, description="DuckDB threads of a scoring run whose chain scores at "
                                       "least scoring_large_from submissions; sums are exact, so every result is "
                                       "the same on any number of threads")
    scoring_large_from: int = Field(4000, ge=0, description="scoring_large_threads from this many submissions in "
                                    "one chain (about 2,000 branches: a quarter and the one before); below it "
                                    "DuckDB has too few rows to split and a second thread only costs CPU")
    # Upload limits, side by side. The size of one workbook is the guide's `limits.max_file_mb`
    # (indicator_guide.yaml: the reader applies it to every file, from the CLI or the upload page alike);
    # .streamlit/config.toml `server.maxUploadSize` repeats it rounded up to whole MB, because Streamlit reads
    # only its own config (tests/test_config.py holds the two equal).
    max_upload_files: int = Field(400, description="Most workbooks accepted in one upload batch")
    upload_day: dt.date | None = Field(
        None, description="The day ledger dates are checked against (a date after it is an error, "
        "date_in_future); default: the real date. Set it (DJ_UPLOAD_DAY=2027-01-15) only to load workbooks "
        "of a quarter that has not ended yet on this machine, such as test or training data")
    archive_link_ttl_s: float = Field(
        60.0, gt=0, description="Seconds a download link of an archived original keeps working after its first "
        "download; it stops at once at sign-out or when the admin's browser disconnects (pages.archive_links)"
    )


    # ---- access (pipelines.auth); see the module docstring for secrets.toml
    admins: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="Local admin accounts, name → bcrypt hash (`python -m pipelines.auth "
        "hash`): DJ_ADMINS='name:hash,name2:hash2', merged with secrets `[admins]` (name = \"hash\"), which win "
        "for the same name. A value that is no bcrypt hash is ignored and reported on the sign-in page")
    view_password_required: bool = Field(
        False, description="Whether viewing the dashboard needs the view password: DJ_VIEW_PASSWORD_REQUIRED=true "
        "or secrets `[access] view_password_required = true` (either turns it on)")
    view_password_hash: str | None = Field(
        None, description="bcrypt hash of the shared view password: DJ_VIEW_PASSWORD_HASH, or secrets "
        "`[access] view_password_hash` (wins)")
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="E-mails of OIDC accounts (secrets `[auth]`, Streamlit's st.login) "
        "allowed to administer: DJ_ADMIN_EMAILS='a@x,b@y' plus secrets `[access] admin_emails = [\"a@x\"]`")
    admin_scopes: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="Scope of local admin accounts, name → college (二级党组织, as in the "
        "registry): DJ_ADMIN_SCOPES='name:college,…', merged with secrets `[admin_scopes]` (name = \"college\"), "
        "which win. An account without a scope is school-wide (组织部); a college admin writes only its branches")
    admin_email_scopes: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="Scope of OIDC admin e-mails, e-mail → college: "
        "DJ_ADMIN_EMAIL_SCOPES='a@x:college,…' plus secrets `[access] admin_email_scopes = {\"a@x\" = "
        "\"college\"}` (wins); an e-mail without a scope is school-wide")

    @field_validator("admins", "admin_scopes", "admin_email_scopes", mode="before")
    @classmethod
    def _pairs_from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        pairs = (item.partition(":") for item in split_list(value))
        return {name.strip(): other.strip() if sep else "" for name, sep, other in pairs}

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _emails_from_text(cls, value: Any) -> Any:
        return split_list(value) if isinstance(value, str) else value

    def archive_for(self, db_path: Path) -> Path:
        """The archive of this database: DJ_ARCHIVE_DIR when set, else `<db>.archive` (e.g. dangjian.duckdb.archive)."""
        return self.archive_dir or Path(str(db_path) + ".archive")


def env_name(field: str) -> str:
    """The environment variable of a setting: env_name("admins") == "DJ_ADMINS"."""
    assert field in Settings.model_fields, field
    return ENV_PREFIX + field.upper()


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
