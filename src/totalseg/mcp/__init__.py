"""An MCP (Model Context Protocol) server offering the official TotalSegmentator MCP tools on
this engine: ``totalseg mcp`` (stdio, or streamable HTTP with ``--http``); see docs/mcp.md."""
