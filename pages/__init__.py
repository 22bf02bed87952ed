"""Dashboard pages (run through st.navigation in app.py); shared UI lives in pages.common."""
