"""The store (SQLModel tables), sync jobs and sync state."""
