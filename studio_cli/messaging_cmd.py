"""`studio send`, `studio broadcast`, `studio inbox`, `studio notes`: mail and notes from a
terminal, over the same broker operations the MCP tools use.

`studio inbox --new` is what the node daemon types into an idle shell agent when mail arrives,
so it keeps the at-least-once rule: each message is acked only after it was printed.
"""

from __future__ import annotations

import argparse
import json

from studio_cli.context import add_identity_option, as_name, settings_from
from studio_cli.output import clock, join_text, message_block

MAX_NEW_PER_RUN = 500
# broker.models.Importance, spelled out: the parser is built without importing pydantic.
IMPORTANCE = ("low", "normal", "high", "urgent")


def register(subparsers: argparse._SubParsersAction) -> None:
    send = subparsers.add_parser(
        "send",
        help="send a message to an agent's inbox",
        description="Store a message in an agent's durable inbox; it is kept until read, even "
        "while the agent is offline, and an idle agent is woken to read it.",
    )
    send.add_argument("to", metavar="TO", help="agent id NODE.NAME, or a name unique in the team")
    send.add_argument(
        "text", nargs="+", metavar="TEXT", help="the message (words are joined; - reads stdin)"
    )
    send.add_argument("--subject", default="", help="a short subject line")
    send.add_argument(
        "--importance",
        default="normal",
        choices=IMPORTANCE,
        help="default normal",
    )
    send.add_argument("--reply-to", metavar="MSG_ID", help="id of the message this answers")
    send.add_argument("--thread", metavar="THREAD_ID", help="thread to add the message to")
    add_identity_option(send)
    send.set_defaults(func=send_command)

    cast = subparsers.add_parser(
        "broadcast", help="send one message to every registered agent (except you)"
    )
    cast.add_argument("text", nargs="+", metavar="TEXT", help="the message (- reads stdin)")
    cast.add_argument("--subject", default="", help="a short subject line")
    add_identity_option(cast)
    cast.set_defaults(func=broadcast_command)

    inbox = subparsers.add_parser(
        "inbox",
        help="show your inbox; --new prints unread messages and marks them read",
        description="Without --new: the last messages (read or not, unread marked ●), nothing "
        "is marked read. With --new: every unread message, each marked read once printed.",
    )
    inbox.add_argument("--agent", metavar="ID", help="whose inbox (default: you)")
    inbox.add_argument("--new", action="store_true", help="print unread messages, mark them read")
    inbox.add_argument("--limit", type=int, help="at most this many (default 20, with --new 100)")
    inbox.add_argument("--json", action="store_true", help="JSON lines, one message each")
    add_identity_option(inbox)
    inbox.set_defaults(func=inbox_command)

    note = subparsers.add_parser(
        "notes",
        help="read the team's shared notes (new ones), or `notes post TEXT`",
        description="The notes feed is an append-only scratchpad for the whole team. Without a "
        "subcommand: the notes you have not read yet (each shows once).",
    )
    note.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    add_identity_option(note)
    note_sub = note.add_subparsers(dest="notes_command", metavar="SUBCOMMAND")
    post = note_sub.add_parser("post", help="add a note for the whole team")
    post.add_argument("text", nargs="+", metavar="TEXT", help="the note (- reads stdin)")
    add_identity_option(post)
    post.set_defaults(func=notes_post_command)
    note.set_defaults(func=notes_read_command)


async def send_command(args: argparse.Namespace) -> int:
    from broker import messages
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        message = await messages.send(
            broker,
            me,
            args.to,
            join_text(args.text),
            subject=args.subject,
            thread_id=args.thread,
            reply_to=args.reply_to,
            importance=args.importance,
        )
    print(f"sent to {message.to} (id {message.id})")
    return 0


async def broadcast_command(args: argparse.Namespace) -> int:
    from broker import messages
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        copies = await messages.broadcast(broker, me, join_text(args.text), subject=args.subject)
    recipients = ", ".join(c.to for c in copies) or "nobody (no other agent is registered)"
    print(f"broadcast to {len(copies)}: {recipients}")
    return 0


async def inbox_command(args: argparse.Namespace) -> int:
    from broker import agents, messages
    from broker.errors import InvalidInput
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    if args.limit is None:
        args.limit = 100 if args.new else 20
    if not 1 <= args.limit <= MAX_NEW_PER_RUN:
        raise InvalidInput(f"--limit must be between 1 and {MAX_NEW_PER_RUN}")
    async with open_broker(settings) as broker:
        if args.agent:
            owner = await agents.resolve(broker, args.agent)
        else:
            owner = await acting_as(broker, settings, as_name(args))
        if args.new:
            return await _print_new(broker, owner, args.limit, args.json)
        found = await messages.history(broker, owner, limit=args.limit)
        pending = await messages.peek_unread(broker, owner, limit=100)
        unread_ids, unread = {m.id for m in pending.messages}, pending.count
    if args.json:
        for m in found:
            print(json.dumps({**m.model_dump(mode="json"), "unread": m.id in unread_ids}))
        return 0
    if not found:
        print(f"{owner}: no messages yet")
        return 0
    print(f"{owner}: last {len(found)} message(s), {unread} unread")
    for m in found:
        print()
        print(message_block(m, unread=m.id in unread_ids))
    if unread:
        print(f"\n{unread} unread: `studio inbox --new` reads them (and marks them read)")
    return 0


async def _print_new(broker, owner, limit: int, as_json: bool) -> int:
    from broker import messages

    printed = 0
    while printed < limit:
        batch = await messages.fetch(broker, owner, limit=min(100, limit - printed))
        if not batch:
            break
        for delivery in batch:
            m = delivery.message
            if as_json:
                print(json.dumps(m.model_dump(mode="json")), flush=True)
            else:
                print(message_block(m) + "\n", flush=True)
            # Acked only once printed: a crash before this line delivers it again.
            await delivery.ack()
            printed += 1
    if not printed and not as_json:
        print(f"{owner}: no new messages")
    elif not as_json:
        left = await messages.unread_count(broker, owner)
        print(f"— {printed} message(s) for {owner}" + (f", {left} more unread" if left else ""))
    return 0


async def notes_read_command(args: argparse.Namespace) -> int:
    from broker import notes
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        found = await notes.read_new(broker, me, limit=args.limit)
    if not found:
        print("no new notes (`studio notes post TEXT` adds one)")
    for n in found:
        print(f"{clock(n.created_at)} {n.sender}: {n.text}")
    return 0


async def notes_post_command(args: argparse.Namespace) -> int:
    from broker import notes
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        note = await notes.post(broker, me, join_text(args.text))
    print(f"posted note {note.id}")
    return 0
