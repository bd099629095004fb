"""The MCP server: one set of tools (tools.py) over two transports, streamable HTTP at
/mcp (http.py) and stdio (`python manage.py mcp`)."""
