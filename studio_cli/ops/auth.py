"""Per-node credentials and permissions: what makes sender identity a fact the broker enforces
rather than a claim the caller makes.

Each node gets an nkey (an ed25519 key pair; the server stores only the public half) and a
permission set derived from its name: it may publish messages only with itself as the sender,
read only its own inbox stream, write only its own presence and registry keys, serve only its
own control subjects and receive replies only under its own inbox prefix. The shared parts
(task board, leases, notes, events, reading presence) stay open to every node of the team.

An admin user (no restrictions) provisions streams, which nodes may not create or change: a
node able to edit its inbox stream's subjects could capture every other node's mail.

Everything lives in one directory: `auth.json` (public keys, the source of truth),
`auth.conf` (rendered from it, `include`d by every nats-server config, reloaded on SIGHUP) and
`creds/` (seeds, one file per user, mode 0600).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import nkeys
from pydantic import BaseModel, Field

from broker.errors import InvalidInput
from broker.files import read_model, write_atomic
from broker.names import Names, inbox_prefix, validate_name
from broker.settings import Settings

ADMIN = "admin"
AUTH_JSON = "auth.json"
AUTH_CONF = "auth.conf"
CREDS_DIR = "creds"


class Permissions(BaseModel):
    publish: list[str]
    subscribe: list[str]
    # A node serving control requests answers on the requester's reply subject, which its
    # publish list does not name: the server allows one response per request received.
    allow_responses: bool = True


class User(BaseModel):
    name: str
    role: Literal["node", "admin"] = "node"
    nkey: str


class AuthConfig(BaseModel):
    team: str
    users: list[User] = Field(default_factory=list)

    def user(self, name: str) -> User | None:
        return next((u for u in self.users if u.name == name), None)


def node_permissions(team: str, node: str) -> Permissions:
    """The exact subjects a node's credentials may use. Worked out by running every broker
    operation under these permissions and reading the server's violation reports; each line
    says which operation needs it."""
    validate_name(node, "node name")
    n = Names(team)
    inbox = n.inbox_stream(node)
    kv_streams = [
        f"KV_{b}"
        for b in (
            n.tasks_bucket,
            n.agents_bucket,
            n.registry_bucket,
            n.leases_bucket,
            n.cursors_bucket,
        )
    ]
    ordered = (inbox, n.events_stream, n.notes_stream, *kv_streams)
    shared = [n.notes_stream, n.events_stream, *kv_streams]
    publish = [
        # messages and broadcast copies: the sender (this node) is in the subject
        f"{n.prefix}.msg.*.*.{node}.*",
        f"{n.prefix}.note.{node}.*",
        f"{n.prefix}.event.{node}.*",
        # notices of who wrote to whom (no body), under its own name
        f"{n.prefix}.flow.{node}",
        # requests to any node's control service, signed with this node's name
        f"{n.prefix}.node.*.ctl.*.{node}",
        # shared board and leases (compare-and-set on revisions), own presence and registry
        f"$KV.{n.tasks_bucket}.>",
        f"$KV.{n.leases_bucket}.>",
        f"$KV.{n.agents_bucket}.{node}.*",
        f"$KV.{n.registry_bucket}.{node}.*",
        f"$KV.{n.cursors_bucket}.{node}.*",
        # stream lookups: on connect (streams exist, made by the admin) and inbox history
        *(f"$JS.API.STREAM.INFO.{s}" for s in (inbox, *shared)),
        # KV reads of one key: any replica (direct get), or the leader where a read decides a
        # compare-and-set (tasks, leases, and "did my retried write land")
        *(f"$JS.API.DIRECT.GET.{s}.>" for s in kv_streams),
        *(f"$JS.API.STREAM.MSG.GET.{s}" for s in kv_streams),
        # ordered (ephemeral) consumers: own inbox history, events, notes, KV reads
        *(f"$JS.API.CONSUMER.CREATE.{s}" for s in ordered),
        # durable cursors: one per own agent on the own inbox (notes keep theirs in the
        # cursors bucket, under the node's own keys)
        f"$JS.API.CONSUMER.CREATE.{inbox}.*.{n.prefix}.msg.{node}.*.>",
        # unread counts (own cursors), and the end of every ordered read
        *(f"$JS.API.CONSUMER.INFO.{s}.*" for s in ordered),
        f"$JS.API.CONSUMER.DELETE.{inbox}.*",
        f"$JS.API.CONSUMER.MSG.NEXT.{inbox}.*",
        # acks, also +WPI/+NAK/+TERM: allow_responses grants only one reply per message
        f"$JS.ACK.{inbox}.>",
        # flow-control replies of ordered consumers (sent once a read outruns the window)
        *(f"$JS.FC.{s}.>" for s in ordered),
    ]
    subscribe = [
        # replies to this node's requests (JetStream API, KV, control)
        f"{inbox_prefix(team, node)}.>",
        # its control service
        f"{n.prefix}.node.{node}.ctl.>",
        # the team's message flow (who wrote to whom; bodies stay in the inboxes)
        f"{n.prefix}.flow.>",
        # mail arriving for its own agents, live (the daemon's wake-ups); the same messages
        # it may read from its inbox stream anyway
        n.node_inbox_subjects(node),
    ]
    return Permissions(publish=publish, subscribe=subscribe)


def new_user_key() -> tuple[str, str]:
    """(seed, public key) of a fresh nkey user."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    return seed.decode(), public


def local_authorization(settings: Settings) -> str:
    """The embedded broker's authorization block: one user, whose seed is made at the first
    start and kept 0600 in the 0700 STUDIO_HOME, so every studio process of this user finds
    it and no other local user can. That user may do everything (it is the node and its
    admin at once)."""
    for directory in (settings.home, settings.broker_dir):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
    path = settings.local_creds
    if not path.exists():
        seed, _ = new_user_key()
        write_atomic(path, seed + "\n", mode=0o600)
    public = public_key_of(path.read_text().strip())
    return "authorization {\n  users = [ { nkey: " + json.dumps(public) + " } ]\n}\n"


def public_key_of(seed: str) -> str:
    try:
        return nkeys.from_seed(bytearray(seed.strip().encode())).public_key.decode()
    except nkeys.NkeysError as exc:
        raise InvalidInput(f"not an nkey seed: {exc}") from None


def render_authorization(config: AuthConfig) -> str:
    """The `authorization {}` block for nats-server (its config syntax accepts JSON values)."""
    entries = []
    for user in sorted(config.users, key=lambda u: (u.role != ADMIN, u.name)):
        entry: dict = {"nkey": user.nkey}
        if user.role == "node":
            perms = node_permissions(config.team, user.name)
            entry["permissions"] = {
                "publish": {"allow": perms.publish},
                "subscribe": {"allow": perms.subscribe},
                "allow_responses": perms.allow_responses,
            }
        body = json.dumps(entry, indent=2).replace("\n", "\n    ")
        entries.append(f"    # {user.role} {user.name}\n    {body}")
    return (
        "# Generated by `studio broker add-node` from auth.json: edit that, not this.\n"
        "# nats-server re-reads it on SIGHUP (`systemctl reload studio-nats`).\n"
        "authorization {\n  users: [\n" + ",\n".join(entries) + "\n  ]\n}\n"
    )


def seed_path(auth_dir: Path, name: str) -> Path:
    return auth_dir / CREDS_DIR / (f"{ADMIN}.nk" if name == ADMIN else f"node-{name}.nk")


def load_auth(auth_dir: Path) -> AuthConfig | None:
    return read_model(auth_dir / AUTH_JSON, AuthConfig)


def save_auth(auth_dir: Path, config: AuthConfig) -> None:
    """Write auth.json and the rendered auth.conf, each atomically (a reload mid-write would
    otherwise read half a file)."""
    auth_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(auth_dir / AUTH_JSON, config.model_dump_json(indent=2) + "\n", mode=0o644)
    write_atomic(auth_dir / AUTH_CONF, render_authorization(config), mode=0o644)


def add_user(
    auth_dir: Path, team: str, name: str, *, role: Literal["node", "admin"] = "node"
) -> tuple[AuthConfig, Path]:
    """Give `name` credentials (kept when it already has them) and render auth.conf again.
    Returns the config and the seed file, which belongs on that node's host only."""
    validate_name(team, "team name")
    if role == "node":
        validate_name(name, "node name")
        if name == ADMIN:
            raise InvalidInput(f"{ADMIN!r} names the provisioning user; pick another node name")
    config = load_auth(auth_dir) or AuthConfig(team=team)
    if config.team != team:
        raise InvalidInput(
            f"{auth_dir} holds credentials for team {config.team!r}, not {team!r}: "
            "use --team to match, or another --dir"
        )
    if config.user(ADMIN) is None and name != ADMIN:
        config, _ = add_user(auth_dir, team, ADMIN, role="admin")
    seed_file = seed_path(auth_dir, name)
    existing = config.user(name)
    if existing and seed_file.is_file() and public_key_of(seed_file.read_text()) == existing.nkey:
        save_auth(auth_dir, config)
        return config, seed_file
    seed, public = new_user_key()
    seed_file.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(seed_file.parent, 0o700)
    write_atomic(seed_file, seed + "\n", mode=0o600)
    config.users = [u for u in config.users if u.name != name] + [
        User(name=name, role=role, nkey=public)
    ]
    save_auth(auth_dir, config)
    return config, seed_file


def remove_user(auth_dir: Path, name: str) -> AuthConfig:
    """Revoke node `name`: drop it from auth.json, render auth.conf again and delete its seed
    file (now worthless, and a key nobody should mistake for a live one). Servers that reload
    the new auth.conf refuse its key and close its connections. The admin cannot be removed
    here: it is the only user that may provision."""
    validate_name(name, "node name")
    if name == ADMIN:
        raise InvalidInput(f"{ADMIN!r} is the provisioning user and cannot be removed")
    config = load_auth(auth_dir)
    if config is None:
        raise InvalidInput(f"no {AUTH_JSON} in {auth_dir}: give the credentials directory (--dir)")
    if config.user(name) is None:
        nodes = ", ".join(u.name for u in config.users if u.role == "node") or "none"
        raise InvalidInput(f"node {name!r} has no credentials in {auth_dir}; nodes: {nodes}")
    config.users = [u for u in config.users if u.name != name]
    save_auth(auth_dir, config)
    seed_path(auth_dir, name).unlink(missing_ok=True)
    return config


def reload_servers(pids: Iterable[int]) -> None:
    """SIGHUP makes nats-server re-read its config, auth included, without dropping clients."""
    for pid in pids:
        os.kill(pid, signal.SIGHUP)
