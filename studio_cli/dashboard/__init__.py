"""`studio dashboard`: the team at a glance in a browser, live.

One server process holds one broker connection with the node's own credentials, one watch per
KV bucket and one reader per stream (feed.py), and fans the changes out to every open page
over server-sent events (app.py). Actions from the page (send, dispatch, kick, peek) call the
same broker operations as the CLI (actions.py), so the page can neither see nor do anything
this node could not.
"""

# Here rather than in server.py: `studio --help` shows it without loading the web stack.
DEFAULT_PORT = 8780
