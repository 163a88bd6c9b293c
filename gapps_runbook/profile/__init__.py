"""The storage layer: one profile per site on disk (client, settings, token), 0600 files in 0700 folders.

``store`` (profiles), ``files`` (their JSON files and lock), ``private_files`` (the one atomic writer),
``authorized_user`` (google-auth's token format), ``secret_sources`` (env, file or prompt; never argv),
``refresh_journal`` (a refresh in flight). Depends on :mod:`gapps_runbook.oauth` for its types.
"""
