"""The release, as /api/status and the MCP server report it."""

VERSION = "0.1.0"
