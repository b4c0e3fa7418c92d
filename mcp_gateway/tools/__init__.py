"""The gateway's tools, one module per concern; each module has `register_tools(server)`."""

from mcp_gateway.tools import files, identity, messaging, nodes, tasks, team, waiting

MODULES = (identity, team, messaging, tasks, files, nodes, waiting)
