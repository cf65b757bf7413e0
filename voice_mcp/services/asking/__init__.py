"""Services that ask: a server's question mid-command becomes the user's (docs/api.md,
"Services that ask"). Import the modules themselves: this package imports nothing, so the
orchestrator can use the scope and the asker without importing the command registry."""
