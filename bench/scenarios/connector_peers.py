"""The two provider test peers as the `connectors` scenario drives them: how each is
started (its throughput cap lifted), the connector configuration that points opencomms
at it, how its webhook is attached, and what it recorded, in one shape for both.

The peers are the project's test peers (`tests/support/rbm_peer`,
`tests/support/whatsapp_peer`): real HTTP servers on 127.0.0.1 that validate every
request as the provider documents it, serving from a thread of the benchmark process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tests.support.rbm_peer import RBM_SCOPE, RbmPeer, sign_jwt
from tests.support.twilio_peer import TwilioPeer
from tests.support.whatsapp_peer import WhatsAppPeer

from bench.peerload import TWILIO_FROM
from bench.scenarios import check

__all__ = ["PEERS", "Peer", "RbmSide", "Reached", "TwilioSide", "WhatsAppSide"]

# the WhatsApp peer's per-number cap (Meta's default is 80/s): lifted, so that the peer's
# own speed and opencomms' are what is measured
WHATSAPP_PEER_RATE = 1_000_000.0


@dataclass(frozen=True)
class Reached:
    """One message the peer accepted: to whom, its text, when (epoch seconds)."""

    phone: str  # E.164
    text: str
    at: float


@dataclass
class Peer:
    """A started peer and what the scenario reads of it."""

    side: Any  # RbmSide | WhatsAppSide
    handle: Any  # RbmPeer | WhatsAppPeer

    def reached(self) -> list[Reached]:
        found: list[Reached] = self.side.reached(self.handle)
        return found

    def count(self) -> int:
        """How many sends the peer has accepted so far (cheap: polled while running)."""
        found: int = self.side.count(self.handle)
        return found

    def refused(self) -> int:
        """Sends the peer answered with anything but a success (e.g. a throttle)."""
        count: int = self.side.refused(self.handle)
        return count

    def webhooks(self) -> dict[str, int]:
        """Webhook posts: `pending` (not yet answered 200), `failed` (given up), and
        `retries` (posts answered otherwise, then posted again)."""
        found: dict[str, int] = self.side.webhooks(self.handle)
        return found


class WhatsAppSide:
    """The WhatsApp Cloud API peer: statuses `sent` then `delivered` per message."""

    name = "whatsapp"
    accepted_status = 200
    connector = "wa"
    channel = "WHATSAPP"
    sender = "+15550783881"
    token, secret, verify = "bench-wa-token", "bench-wa-app-secret", "bench-wa-verify"

    @contextmanager
    def started(self, directory: Path, *, webhooks: bool) -> Iterator[Peer]:
        """A peer with its cap lifted; without `webhooks` it posts no status at all
        (the peer-alone run has nobody to post them to)."""
        del directory  # the WhatsApp peer keeps everything in memory
        statuses: tuple[str, ...] = ("sent", "delivered") if webhooks else ()
        peer = WhatsAppPeer(
            access_token=self.token, app_secret=self.secret, verify_token=self.verify,
            display_phone_number=self.sender.removeprefix("+"),
            throughput_per_s=WHATSAPP_PEER_RATE, statuses=statuses,
        )  # fmt: skip
        with peer:
            yield Peer(self, peer)

    def config(self, peer: WhatsAppPeer, concurrency: int) -> str:
        return f"""\
[connectors.{self.connector}]
type = "whatsapp"
phone_number_id = "{peer.phone_number_id}"
access_token_env = "BENCH_WA_TOKEN"
app_secret_env = "BENCH_WA_APP_SECRET"
verify_token_env = "BENCH_WA_VERIFY_TOKEN"
base_url = "{peer.base_url}"
throughput = 0
connections = {concurrency}
"""

    def env(self, peer: WhatsAppPeer) -> dict[str, str]:
        del peer
        return {
            "BENCH_WA_TOKEN": self.token,
            "BENCH_WA_APP_SECRET": self.secret,
            "BENCH_WA_VERIFY_TOKEN": self.verify,
        }

    def attach(self, peer: WhatsAppPeer, webhook_url: str) -> None:
        """Meta's subscription handshake, then statuses go to `webhook_url`."""
        peer.webhook_url = webhook_url
        answer = peer.handshake(challenge="20261207")
        check(
            (answer.status_code, answer.text) == (200, "20261207"),
            f"the webhook handshake answered {answer.status_code}: {answer.text[:200]}",
        )

    def caps(self, peer: WhatsAppPeer) -> dict[str, Any]:
        return {"peer_throughput_per_s": peer.throughput_per_s, "connector_throughput": 0}

    def load(self, peer: WhatsAppPeer) -> tuple[list[str], str]:
        """The peer-alone client's arguments, and its bearer token."""
        return [peer.base_url, "--phone-number-id", peer.phone_number_id], self.token

    def count(self, peer: WhatsAppPeer) -> int:
        return len(peer.accepted)

    def reached(self, peer: WhatsAppPeer) -> list[Reached]:
        return [Reached("+" + a.wa_id, a.body, a.at) for a in list(peer.accepted)]

    def refused(self, peer: WhatsAppPeer) -> int:
        return sum(1 for send in list(peer.sends) if send.status_code != 200)

    def webhooks(self, peer: WhatsAppPeer) -> dict[str, int]:
        deliveries = peer.deliveries
        return {
            "posted": len(deliveries),
            "pending": sum(1 for d in deliveries if not d.settled),
            "failed": sum(1 for d in deliveries if d.abandoned),
            "retries": sum(max(0, len(d.attempts) - 1) for d in deliveries),
        }


def _epoch(rfc3339: str) -> float:
    return datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


class RbmSide:
    """The Google RBM peer: a DELIVERED event per message, every phone online and
    RCS-capable, no READ."""

    name = "rbm"
    accepted_status = 200
    connector = "rcs"
    channel = "RCS"
    agent = "opencomms-bench-agent"
    sender = agent  # an RBM sender's address is its agent id

    @contextmanager
    def started(self, directory: Path, *, webhooks: bool) -> Iterator[Peer]:
        """A peer (it has no throughput cap); without `webhooks` its events wait in its
        backlog, as Pub/Sub keeps them while no push endpoint is set."""
        del webhooks  # events are held until attach() sets the webhook
        with RbmPeer(directory, agent_id=self.agent) as peer:
            yield Peer(self, peer)

    def config(self, peer: RbmPeer, concurrency: int) -> str:
        return f"""\
[connectors.{self.connector}]
type = "rbm"
agent_id = "{peer.agent_id}"
service_account_file = "{peer.key_file}"
client_token_env = "BENCH_RBM_CLIENT_TOKEN"
base_url = "{peer.url}"
throughput = 0
concurrency = {concurrency}
"""

    def env(self, peer: RbmPeer) -> dict[str, str]:
        return {"BENCH_RBM_CLIENT_TOKEN": peer.client_token}

    def attach(self, peer: RbmPeer, webhook_url: str) -> None:
        """The console's webhook registration (clientToken/secret handshake)."""
        handshake = peer.register_webhook(webhook_url)
        check(handshake.ok, f"the webhook handshake answered {handshake.status}")

    def caps(self, peer: RbmPeer) -> dict[str, Any]:
        del peer
        return {"peer_throughput_per_s": None, "connector_throughput": 0}

    def load(self, peer: RbmPeer) -> tuple[list[str], str]:
        """The peer-alone client's arguments, and a token from the peer's token endpoint
        (the JWT-bearer grant, as the connector gets its own)."""
        account, now = peer.account, int(time.time())
        claims = {
            "iss": account.client_email, "scope": RBM_SCOPE, "aud": peer.token_uri,
            "iat": now, "exp": now + 3600,
        }  # fmt: skip
        assertion = sign_jwt(account.private_key, claims, {"kid": account.private_key_id})
        grant = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}
        answer = httpx.post(peer.token_uri, data={**grant, "assertion": assertion}, timeout=10)
        check(answer.status_code == 200, f"the peer's token endpoint answered {answer.text}")
        token: str = answer.json()["access_token"]
        return [peer.url, "--agent-id", peer.agent_id], token

    def count(self, peer: RbmPeer) -> int:
        return len(peer.records.accepted)

    def reached(self, peer: RbmPeer) -> list[Reached]:
        found = []
        for message in peer.messages():
            check(message.deliveries <= 1, f"{message.message_id} reached its phone twice")
            text = message.body["contentMessage"].get("text", "")
            found.append(Reached(message.phone, text, _epoch(message.send_time)))
        return found

    def refused(self, peer: RbmPeer) -> int:
        return sum(1 for _, _, status in peer.answers() if status != 200)

    def webhooks(self, peer: RbmPeer) -> dict[str, int]:
        pushes = peer.pushes()
        return {
            "posted": len(pushes),
            "pending": peer.pending_events(),
            "failed": 0,  # Pub/Sub retries for `retry_for` (600 s): what is left is pending
            "retries": sum(1 for push in pushes if push.status != 200),
        }


class TwilioSide:
    """The Twilio Messaging peer: status callbacks `sent` then `delivered` per message,
    each its own signed POST to the StatusCallback the send named (so nothing to attach)."""

    name = "twilio"
    accepted_status = 201
    connector = "up"
    channel = "SMS"
    sender = TWILIO_FROM
    account, token = "AC" + "be" * 16, "bench-twilio-auth-token"

    @contextmanager
    def started(self, directory: Path, *, webhooks: bool) -> Iterator[Peer]:
        """A peer (no throughput cap); without `webhooks` it posts no callback at all."""
        del directory
        statuses: tuple[str, ...] = ("sent", "delivered") if webhooks else ()
        peer = TwilioPeer(account_sid=self.account, auth_token=self.token, statuses=statuses,
                          callback_concurrency=32)  # fmt: skip
        with peer:
            yield Peer(self, peer)

    def config(self, peer: TwilioPeer, concurrency: int) -> str:
        return f"""\
[connectors.{self.connector}]
type = "twilio"
account_sid = "{self.account}"
auth_token_env = "BENCH_TWILIO_AUTH_TOKEN"
base_url = "{peer.base_url}"
throughput = 0
connections = {concurrency}
"""

    def env(self, peer: TwilioPeer) -> dict[str, str]:
        del peer
        return {"BENCH_TWILIO_AUTH_TOKEN": self.token}

    def attach(self, peer: TwilioPeer, webhook_url: str) -> None:
        """Nothing to attach: each send names its StatusCallback."""
        del peer, webhook_url

    def caps(self, peer: TwilioPeer) -> dict[str, Any]:
        del peer
        return {"peer_throughput_per_s": None, "connector_throughput": 0}

    def load(self, peer: TwilioPeer) -> tuple[list[str], str]:
        """The peer-alone client's arguments, and its Basic credentials (`sid:token`)."""
        return [peer.base_url, "--account-sid", self.account], f"{self.account}:{self.token}"

    def count(self, peer: TwilioPeer) -> int:
        return len(peer.accepted)

    def reached(self, peer: TwilioPeer) -> list[Reached]:
        return [Reached(a.outgoing.number, a.outgoing.body, a.at) for a in list(peer.accepted)]

    def refused(self, peer: TwilioPeer) -> int:
        return sum(1 for send in list(peer.sends) if send.status_code != 201)

    def webhooks(self, peer: TwilioPeer) -> dict[str, int]:
        callbacks = list(peer.callbacks)
        answered = [c for c in callbacks if c.done.is_set()]
        return {
            "posted": len(callbacks),
            "pending": peer.unsettled(),
            "failed": sum(1 for c in answered if c.answered != 200),
            "retries": 0,  # Twilio does not retry a status callback, nor does the peer
        }


PEERS: dict[str, Any] = {"rbm": RbmSide(), "whatsapp": WhatsAppSide(), "twilio": TwilioSide()}
