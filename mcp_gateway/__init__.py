"""The MCP server each agent session talks to: one small tool per broker operation."""
