"""Campaign members and outcome events as frames (the export's tables, later the store's)."""
