"""The peer-alone load client of the `connectors` scenario: N valid sends POSTed straight
to a provider's test peer (RBM, WhatsApp Cloud API or Twilio) from C keep-alive connections, as
fast as the peer answers. Its rate is the peer's own limit, set against opencomms
sending the same messages through its connector.

Run as its own process (the peer serves from a thread of the benchmark process), e.g.
`BENCH_PEER_TOKEN=… python -m bench.peerload whatsapp http://127.0.0.1:P/v21.0 --count
10000 --connections 32 --phone-number-id 106540352242922`; it prints one JSON object:
the seconds from the first request to the last answer, and the count of each answer's
status. The bodies are the ones the connectors send for the benchmark's text messages
(`connectors/whatsapp/messages.py`, `connectors/rbm/content.py`), built before the
clock starts; the recipients and texts are the ones of `bench.api.send_body`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from urllib.parse import quote, urlencode

import aiohttp
import msgspec

from bench.api import phone_number

__all__ = ["TWILIO_FROM", "PeerLoad", "Request", "main", "requests", "run_load", "text"]

TWILIO_FROM = "+12065558844"  # the Twilio sender of the benchmark
TOKEN_VARIABLE = "BENCH_PEER_TOKEN"  # the bearer token, kept out of the command line
# how each kind authenticates and encodes its sends (Twilio: the account SID and auth
# token as Basic auth, the token variable holding `sid:token`; a form body)
AUTHORIZATION = {"rbm": "Bearer", "whatsapp": "Bearer", "twilio": "Basic"}
CONTENT_TYPE = {"rbm": "application/json", "whatsapp": "application/json",
                "twilio": "application/x-www-form-urlencoded"}  # fmt: skip


class PeerLoad(msgspec.Struct):
    seconds: float
    statuses: dict[str, int]  # answers by HTTP status (or exception name)


class Request(msgspec.Struct):
    url: str
    params: dict[str, str]
    body: bytes


def text(index: int) -> str:
    """The text `bench.api.send_body` renders for recipient `index` (its `n` variable)."""
    return f"Hello {index}, this is the opencomms benchmark."


def _whatsapp(base_url: str, phone_number_id: str, index: int) -> Request:
    body = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": phone_number(index).removeprefix("+"),
        "biz_opaque_callback_data": f"peerload-{index}",
        "type": "text",
        "text": {"body": text(index), "preview_url": False},
    }
    url = f"{base_url.rstrip('/')}/{phone_number_id}/messages"
    return Request(url, {}, msgspec.json.encode(body))


def _rbm(base_url: str, agent_id: str, index: int) -> Request:
    phone = quote(phone_number(index), safe="+")
    url = f"{base_url.rstrip('/')}/v1/phones/{phone}/agentMessages"
    params = {"messageId": str(uuid.uuid4()), "agentId": agent_id}
    body = {"contentMessage": {"text": text(index)}}
    return Request(url, params, msgspec.json.encode(body))


def _twilio(base_url: str, account_sid: str, index: int) -> Request:
    form = {"To": phone_number(index), "From": TWILIO_FROM, "Body": text(index)}
    url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
    return Request(url, {}, urlencode(form).encode())


def requests(kind: str, base_url: str, count: int, *, account: str) -> list[Request]:
    """`count` sends to the benchmark's recipients 0..count-1: `account` is the RBM agent
    id, the WhatsApp phone-number id, or the Twilio account SID."""
    build = {"whatsapp": _whatsapp, "rbm": _rbm, "twilio": _twilio}[kind]
    return [build(base_url, account, index) for index in range(count)]


async def run_load(
    load: list[Request], token: str, *, connections: int, kind: str = "whatsapp"
) -> PeerLoad:
    """POST every request, `connections` at a time, over keep-alive connections."""
    statuses: Counter[str] = Counter()
    queue = iter(load)
    if AUTHORIZATION[kind] == "Basic":
        token = base64.b64encode(token.encode()).decode()
    headers = {
        "Authorization": f"{AUTHORIZATION[kind]} {token}",
        "Content-Type": CONTENT_TYPE[kind],
    }
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:

        async def worker() -> None:
            for request in queue:
                try:
                    async with session.post(
                        request.url, params=request.params, data=request.body
                    ) as answer:
                        await answer.read()
                        statuses[str(answer.status)] += 1
                except aiohttp.ClientError as error:
                    statuses[type(error).__name__] += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        seconds = time.monotonic() - started
    return PeerLoad(seconds=seconds, statuses=dict(statuses))


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peerload", description=__doc__)
    parser.add_argument("kind", choices=("rbm", "whatsapp", "twilio"))
    parser.add_argument("base_url", help="the connector's base_url for this peer")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--agent-id", default="", help="rbm: the agent id")
    parser.add_argument("--phone-number-id", default="", help="whatsapp: the number's id")
    parser.add_argument("--account-sid", default="", help="twilio: the account SID")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    account = {"rbm": args.agent_id, "whatsapp": args.phone_number_id}.get(
        args.kind, args.account_sid
    )
    load = requests(args.kind, args.base_url, args.count, account=account)
    token = os.environ[TOKEN_VARIABLE]
    result = asyncio.run(run_load(load, token, connections=args.connections, kind=args.kind))
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
