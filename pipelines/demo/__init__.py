"""The built-in demo school: generated workbooks ingested through the real write path."""
