"""Where records live: the SQLite store, its leases, and exports."""
