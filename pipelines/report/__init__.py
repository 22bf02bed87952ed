"""The Chinese tables the pages and the quarterly report share, the report workbook and PDF."""
