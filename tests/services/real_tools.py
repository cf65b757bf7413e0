"""Real MCP tool definitions (name, description, annotations) copied from public servers,
with the risk level each must get (docs/api.md, Risk). Data only: tests/services/test_risk.py
runs the table.

Origins (annotations exactly as the servers declare them; `{}` means none at all):
- FS: modelcontextprotocol/servers src/filesystem/index.ts (2026-07)
- GIT: mcp-server-git 2026.10 from PyPI (tools/list of the installed package)
- TIME: mcp-server-time 2026.10 from PyPI (tools/list of the installed package)
- MEMORY: modelcontextprotocol/servers src/memory/index.ts (2026-07)
- FETCH: modelcontextprotocol/servers src/fetch/src/mcp_server_fetch/server.py (2026-07)
- ARCHIVED: modelcontextprotocol/servers-archived (github, slack, postgres, sqlite,
  puppeteer), as published on npm/PyPI before archiving; no annotations
- STRIPE: stripe/agent-toolkit (tool prompts, no annotations)
- GMAIL: GongRzhe/Gmail-MCP-Server src/index.ts (no annotations)
"""

from __future__ import annotations

from typing import Any

FS = "modelcontextprotocol/servers src/filesystem"
GIT = "mcp-server-git (PyPI)"
TIME = "mcp-server-time (PyPI)"
MEMORY = "modelcontextprotocol/servers src/memory"
FETCH = "modelcontextprotocol/servers src/fetch"
GITHUB = "modelcontextprotocol/servers-archived src/github"
SLACK = "modelcontextprotocol/servers-archived src/slack"
POSTGRES = "modelcontextprotocol/servers-archived src/postgres"
SQLITE = "modelcontextprotocol/servers-archived src/sqlite"
PUPPETEER = "modelcontextprotocol/servers-archived src/puppeteer"
STRIPE = "stripe/agent-toolkit"
GMAIL = "GongRzhe/Gmail-MCP-Server"

RO = {"readOnlyHint": True, "openWorldHint": False}
RO_FULL = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True,
           "openWorldHint": False}


def _w(destructive: bool, idempotent: bool) -> dict[str, bool]:
    return {"readOnlyHint": False, "destructiveHint": destructive, "idempotentHint": idempotent,
            "openWorldHint": False}


# (origin, name, description, annotations, expected level)
REAL_TOOLS: list[tuple[str, str, str, dict[str, Any], str]] = [
    # --- filesystem: annotated -------------------------------------------------------------
    (FS, "read_file", "Read the complete contents of a file as text. DEPRECATED: Use"
     " read_text_file instead.", RO, "low"),
    (FS, "read_text_file", "Read the complete contents of a file from the file system as text."
     " Handles various text encodings and provides detailed error messages if the file cannot"
     " be read.", RO, "low"),
    (FS, "read_multiple_files", "Read the contents of multiple files simultaneously. This is"
     " more efficient than reading files one by one when you need to analyze or compare"
     " multiple files.", RO, "low"),
    (FS, "write_file", "Create a new file or completely overwrite an existing file with new"
     " content. Use with caution as it will overwrite existing files without warning.",
     {"readOnlyHint": False, "idempotentHint": True, "destructiveHint": True,
      "openWorldHint": False}, "high"),
    (FS, "edit_file", "Make line-based edits to a text file. Each edit replaces exact line"
     " sequences with new content.", _w(True, False), "high"),
    (FS, "create_directory", "Create a new directory or ensure a directory exists. Can create"
     " multiple nested directories in one operation.", _w(False, True), "medium"),
    (FS, "list_directory", "Get a detailed listing of all files and directories in a specified"
     " path. Results clearly distinguish between files and directories with [FILE] and [DIR]"
     " prefixes.", RO, "low"),
    (FS, "directory_tree", "Get a recursive tree view of files and directories as a JSON"
     " structure.", RO, "low"),
    (FS, "move_file", "Move or rename files and directories. Can move files between directories"
     " and rename them in a single operation.", _w(True, False), "high"),
    (FS, "search_files", "Recursively search for files and directories matching a pattern.",
     RO, "low"),
    (FS, "get_file_info", "Retrieve detailed metadata about a file or directory.", RO, "low"),
    (FS, "list_allowed_directories", "Returns the list of directories that this server is"
     " allowed to access.", RO, "low"),
    # --- git: annotated -------------------------------------------------------------------
    (GIT, "git_status", "Shows the working tree status", RO_FULL, "low"),
    (GIT, "git_diff_unstaged", "Shows changes in the working directory that are not yet staged",
     RO_FULL, "low"),
    (GIT, "git_diff_staged", "Shows changes that are staged for commit", RO_FULL, "low"),
    (GIT, "git_diff", "Shows differences between branches or commits", RO_FULL, "low"),
    (GIT, "git_log", "Shows the commit logs", RO_FULL, "low"),
    (GIT, "git_show", "Shows the contents of a commit, or of a file or directory given as"
     " <revision>:<path>", RO_FULL, "low"),
    (GIT, "git_branch", "List Git branches", RO_FULL, "low"),
    (GIT, "git_commit", "Records changes to the repository", _w(False, False), "medium"),
    (GIT, "git_add", "Adds file contents to the staging area", _w(False, True), "medium"),
    (GIT, "git_reset", "Unstages all staged changes", _w(True, True), "high"),
    (GIT, "git_create_branch", "Creates a new branch from an optional base branch",
     _w(False, False), "medium"),
    (GIT, "git_checkout", "Switches branches", _w(False, False), "medium"),
    # --- time: annotated read-only (the local `time` service must run unconfirmed) ---------
    (TIME, "get_current_time", "Get current time in a specific timezone", RO_FULL, "low"),
    (TIME, "convert_time", "Convert time between timezones", RO_FULL, "low"),
    # --- memory: annotated ----------------------------------------------------------------
    (MEMORY, "create_entities", "Create multiple new entities in the knowledge graph",
     _w(False, False), "medium"),
    (MEMORY, "create_relations", "Create multiple new relations between entities in the"
     " knowledge graph. Relations should be in active voice", _w(False, False), "medium"),
    (MEMORY, "add_observations", "Add new observations to existing entities in the knowledge"
     " graph", _w(False, False), "medium"),
    (MEMORY, "delete_entities", "Delete multiple entities and their associated relations from"
     " the knowledge graph", _w(True, True), "high"),
    (MEMORY, "delete_observations", "Delete specific observations from entities in the"
     " knowledge graph", _w(True, True), "high"),
    (MEMORY, "read_graph", "Read the entire knowledge graph", RO_FULL, "low"),
    (MEMORY, "search_nodes", "Search for nodes in the knowledge graph based on a query",
     RO_FULL, "low"),
    (MEMORY, "open_nodes", "Open specific nodes in the knowledge graph by their names",
     RO_FULL, "low"),
    # --- fetch: no annotations: reaches the internet, nothing shows it harmless -------------
    (FETCH, "fetch", "Fetches a URL from the internet and optionally extracts its contents as"
     " markdown.", {}, "high"),
    # --- github (archived, no annotations) ------------------------------------------------
    (GITHUB, "search_repositories", "Search for GitHub repositories", {}, "high"),
    (GITHUB, "get_file_contents", "Get the contents of a file or directory from a GitHub"
     " repository", {}, "high"),
    (GITHUB, "create_or_update_file", "Create or update a single file in a GitHub repository",
     {}, "high"),
    (GITHUB, "push_files", "Push multiple files to a GitHub repository in a single commit", {},
     "high"),
    (GITHUB, "create_issue", "Create a new issue in a GitHub repository", {}, "high"),
    (GITHUB, "merge_pull_request", "Merge a pull request", {}, "high"),
    # --- slack (archived, no annotations) -------------------------------------------------
    (SLACK, "slack_list_channels", "List public or pre-defined channels in the workspace with"
     " pagination", {}, "high"),
    (SLACK, "slack_post_message", "Post a new message to a Slack channel", {}, "high"),
    (SLACK, "slack_reply_to_thread", "Reply to a specific message thread in Slack", {}, "high"),
    # --- databases: queries are high whatever they claim ----------------------------------
    (POSTGRES, "query", "Run a read-only SQL query", {}, "high"),
    (SQLITE, "read_query", "Execute a SELECT query on the SQLite database", {}, "high"),
    (SQLITE, "write_query", "Execute an INSERT, UPDATE, or DELETE query on the SQLite database",
     {}, "high"),
    (SQLITE, "list_tables", "List all tables in the SQLite database", {}, "high"),
    # --- puppeteer (archived, no annotations) ---------------------------------------------
    (PUPPETEER, "puppeteer_navigate", "Navigate to a URL", {}, "high"),
    (PUPPETEER, "puppeteer_evaluate", "Execute JavaScript in the browser console", {}, "high"),
    # --- stripe (no annotations) ----------------------------------------------------------
    (STRIPE, "create_refund", "This tool will refund a payment intent in Stripe.", {}, "high"),
    (STRIPE, "retrieve_balance", "This tool will retrieve the balance from Stripe. It takes no"
     " input.", {}, "high"),
    # --- gmail (no annotations) -----------------------------------------------------------
    (GMAIL, "send_email", "Sends a new email", {}, "high"),
    (GMAIL, "delete_email", "Permanently deletes an email", {}, "high"),
    (GMAIL, "search_emails", "Searches for emails using Gmail search syntax", {}, "high"),
]

# The same kinds of tool as servers that DO annotate them would: words still raise a
# read-only or closed write when they say commands, SQL, money or messages.
ANNOTATED_VARIANTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("run_command", "Run a shell command", RO_FULL, "high"),
    ("sql_query", "Execute any SQL including DROP", RO_FULL, "high"),
    ("wire_funds", "Moves money", _w(False, False), "high"),
    ("create_message", "Create a message in a channel", _w(False, False), "high"),
    ("read_email", "Retrieves the content of a specific email", RO_FULL, "low"),
    ("get_payment", "Retrieve a payment by its id", RO_FULL, "low"),
    ("list_processes", "List running processes", RO_FULL, "low"),
]
