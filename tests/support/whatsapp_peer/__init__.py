"""A WhatsApp Cloud API peer for tests: a real HTTP server on 127.0.0.1 that answers
`POST /{version}/{phone-number-id}/messages` as Meta documents it, keeps what it
accepted, and posts signed `messages` webhooks (statuses, user messages) back to the
app, again until answered 200. Written from Meta's public Cloud API documentation only.

Starting it
-----------
    with WhatsAppPeer(access_token="t", app_secret="s", verify_token="v",
                      webhook_url="http://127.0.0.1:8000/webhooks/whatsapp") as peer:
        peer.base_url          # "http://127.0.0.1:PORT/v21.0": the connector's base_url
        peer.phone_number_id   # "106540352242922" unless given
        peer.webhook_url = ... # may be set (or changed) after start

It serves from its own thread and event loop, so it works from sync tests, from async
tests (any loop), and for an `opencomms serve` child process (it is plain TCP). Any
`v<major>.<minor>` version is accepted in the path. Other constructor keywords:
`display_phone_number`, `waba_id` (metadata and entry id of webhooks),
`throughput_per_s` (80), `pair_interval_s` (None: off), `open_windows` (True),
`statuses` (("sent", "delivered")), `statuses_per_post` (1; more lets statuses due
within 5 ms share a POST, as Meta may), `callback_data_on_failed` (True),
`retry_delays_s` (growing to 10 s, about a minute in all), `webhook_concurrency` (16),
`webhook_timeout_s` (10).

The send endpoint
-----------------
Checked in this order; every refusal is Graph's error body `{"error": {"message",
"type": "OAuthException", "code", "error_data": {"messaging_product", "details"},
"fbtrace_id"}}` (`graph.ERRORS` holds each code's HTTP status, title and details):
1. the bearer token (header, or Graph's `access_token` query parameter): 190, HTTP 401;
2. the phone-number id and version: 100 with error_subcode 33, HTTP 400;
3. the body (`graph.validate`): JSON object; `messaging_product` "whatsapp";
   `recipient_type` "individual" if present; `to` a phone number; `type` (default
   "text") one of text, image, video, audio, document, sticker, template, location,
   reaction, interactive, contacts, with its object and no other type's object; no
   unknown top-level key; text: `body` 1..4096 characters, optional boolean
   `preview_url`; media: exactly one of `link` (http/https) and `id`, `caption`
   (image, video, document only) up to 1024, `filename` (document only); template:
   `name`, `language.code`, `language.policy` "deterministic" if present, components
   of type header/body/button with typed parameters (a button needs `sub_type` and an
   `index` 0..9); `biz_opaque_callback_data` a string up to 512 characters. Any of it
   wrong: 100, HTTP 400. Once a template is registered with `add_template`, a template
   send must name a registered (name, language) (132001) with as many header and body
   parameters (132000);
4. scripted refusals (`refuse`), then throughput (130429 beyond `throughput_per_s`, a
   token bucket with bursts up to the rate), then the pair rate (131056 within
   `pair_interval_s` of the last message accepted for that user): HTTP 400.
Any other path or method: 100, HTTP 400 ("Unsupported … request").
Accepted: HTTP 200 `{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
"messages": [{"id": "wamid.…"}]}` (a template's message also has `"message_status":
"accepted"`), then its statuses (below).

Scripts (by number; "+1 555…" and "1555…" are the same user)
-------------------------------------------------------------
    peer.refuse(number, 130429, times=2)   # synchronous Graph errors for the next tries
    peer.fail(number, 131026, times=None)  # accepted, then only a `failed` status
    peer.close_window(number)              # non-template messages fail with 131047
    peer.user_wrote(number, at=epoch_s)    # the 24-hour window runs from `at`
    peer.statuses(number, "sent", ("delivered", 2.0), before_answer=False)
    peer.slow(number, 5.0, times=1)        # accepted at once, HTTP answer held 5 s
    peer.add_template("order_update", "en_US", body_params=2, header_params=0)
    peer.throughput_per_s = 100_000        # e.g. for a 10,000-message test
    peer.pair_interval_s = 6
    peer.retry_delays_s = (0.05, 0.1)
`statuses` sets the sequence posted for each message to that number, each a separate
POST sent `delay_s` after the previous one was answered (or given up): ("sent",) never
delivered, ("sent", "read") read without delivered, ("delivered", "sent") out of order,
("sent", ("delivered", 5)) late, ("sent", "sent", "delivered") duplicated, () nothing.
With `before_answer=True` the first status is posted, and its answer awaited, before
the send's HTTP answer goes out. A `Step(status, delay_s, error_code)` may be passed.
`slow` makes the outcome a client sees unknown (its timeout fires) while the message
was accepted and its statuses go out: the crash-and-resend case.

Webhooks
--------
Every POST carries `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`,
`Content-Type: application/json` and `User-Agent: facebookexternalua`; the body is
compact JSON with non-ASCII escaped (`\\u00fc`), so only a check over the raw bytes
passes. Envelope: `{"object": "whatsapp_business_account", "entry": [{"id": waba_id,
"changes": [{"field": "messages", "value": {"messaging_product": "whatsapp", "metadata":
{"display_phone_number", "phone_number_id"}, ...}}]}]}`. A status: `id` (wamid),
`status`, `timestamp` (epoch seconds, a string), `recipient_id` (wa_id),
`biz_opaque_callback_data` when the send had one (not on failed ones with
`callback_data_on_failed=False`); sent and delivered add
`conversation` {id, expiration_timestamp, origin.type} and `pricing` {billable,
pricing_model "PMP", category, type}; failed adds `errors` [{code, title, message,
error_data.details, href}]. Anything but 200 (204 included) is retried after each
delay of `retry_delays_s`, then given up (`Delivery.abandoned`).

    peer.push_user_message(number, "STOP", name="Ada")  # value.contacts + value.messages
    peer.push_statuses((wamid, "read"), (wamid2, "failed", 131026))  # one POST
    peer.push_payload(payload_or_bytes, secret="forged" | signature="sha256=…",
                      retry=False)
    peer.handshake(verify_token=None, challenge=None) / await peer.handshake_async(...)
        # GET webhook_url?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…;
        # the receiver should answer 200 with the challenge as the body
Each push returns its `Delivery` (payload, body, signature, attempts [Attempt(at,
status_code, error, answer)], delivered, abandoned, done: threading.Event).

Records
-------
    peer.sends            # [Send(at, to, biz_opaque_callback_data, body, status_code,
                          #       error_code, wamid)]: every authorized POST to /messages
    peer.accepted         # [Accepted(wamid, to, wa_id, type, body, biz_opaque_callback_data,
                          #           payload, at, steps)]; peer.by_wamid[wamid]
    peer.posted_count(cb) / peer.accepted_count(cb) / peer.accepted_twice()
    peer.accepted_by_body / peer.posted_by_body  # Counters of bodies (text, caption or
                          # link, "template name | param | ...")
    peer.deliveries / peer.pending() / peer.unsettled()
    peer.wait_settled(timeout) / await peer.settled(within_s)  # all webhooks settled
    peer.reset()          # records, scripts and templates forgotten (a shared peer)

Assumptions (where the public documentation did not say)
--------------------------------------------------------
- 131026 and 131047 arrive only as a `failed` status after an accepted send (Meta lists
  them as errors that may be asynchronous); the peer never returns them synchronously
  unless scripted with `refuse`.
- 130429 and 131056 are synchronous, HTTP 400 (Meta's table lists 400 for both; only
  code 4, the app's call rate, is 429).
- A missing token is refused like an invalid one (190, 401).
- Unknown top-level keys, a second type's object, and recipient_type "group" are
  refused with 100; Graph's exact wording of 100 messages is not reproduced.
- With no template registered, any template name and language is accepted.
- `open_windows=True` treats every user as having written within 24 h unless scripted:
  a convenience (Meta would refuse free-form text to a user who never wrote).
- The pair rate limit is off unless `pair_interval_s` is set (Meta: about one message
  every 6 s per user, with bursts).
- Retries: Meta retries non-200 answers with growing delays for up to days; the peer's
  schedule is about a minute and configurable. Statuses go one per body unless
  `statuses_per_post` or `push_statuses` batch them.
- Meta's reference says `biz_opaque_callback_data` comes back in sent, delivered and
  read webhooks; whether failed ones carry it is not said: the peer echoes it there by
  default, and `callback_data_on_failed=False` checks a receiver that matches by wamid.
- Statuses are posted in the scripted order; Meta does not guarantee order.
- Media links are not fetched (no 131053).
"""

from tests.support.whatsapp_peer.graph import ERRORS, GraphError, Template
from tests.support.whatsapp_peer.peer import Accepted, Send, WhatsAppPeer
from tests.support.whatsapp_peer.scripts import Step
from tests.support.whatsapp_peer.webhooks import Attempt, Delivery, sign

__all__ = [
    "ERRORS",
    "Accepted",
    "Attempt",
    "Delivery",
    "GraphError",
    "Send",
    "Step",
    "Template",
    "WhatsAppPeer",
    "sign",
]
