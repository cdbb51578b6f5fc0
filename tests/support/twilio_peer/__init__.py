"""A Twilio Programmable Messaging peer for tests: a real HTTP server on 127.0.0.1 that
answers `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` as Twilio documents it
(the Message resource reference, the error dictionary), keeps what it accepted, and
calls each message's `StatusCallback` with signed status callbacks. Written from
Twilio's public documentation only.

Starting it
-----------
    with TwilioPeer(account_sid="AC…", auth_token="…", api_keys={"SK…": "secret"},
                    messaging_service_sids=("MG…",)) as peer:
        peer.base_url      # "http://127.0.0.1:PORT": the connector's base_url

It serves from its own thread and event loop (uvicorn, a plain ASGI app), so it works
from sync tests, async tests, and for a server in another thread or process.

The send endpoint
-----------------
Checked in this order; every refusal is Twilio's JSON error `{"code", "message",
"more_info": "https://www.twilio.com/docs/errors/{code}", "status"}` with that HTTP status:
1. Basic auth: the account SID with the auth token, or an API key SID (`api_keys`) with
   its secret; anything else 20003, 401;
2. the path: POST to this account's Messages.json, else 20404, 404;
3. the form (`api.validate`): `To` (21604), `From` or `MessagingServiceSid` (21603; a
   service the peer does not know 21701), `Body` or `MediaUrl` or `ContentSid` (21602),
   `Body` ≤ 1,600 characters (21617), ≤ 10 `MediaUrl` (21623) each an http(s) URL
   (21620), `To` in E.164 after any `whatsapp:` prefix (21211), `From` E.164 or an
   alphanumeric sender id (not on WhatsApp) (21212), `From` and `To` on the same channel
   (21910), `StatusCallback` an http(s) URL whose host has no underscore (21609),
   `ValidityPeriod` 1..36,000 (60200). Unknown parameters are ignored;
4. scripted refusals by number: `peer.refuse("+1…", 21610, times=1, retry_after="")`
   (any code of `api.ERRORS`, with its HTTP status; 20429 is a 429, with `Retry-After`
   when given).
Accepted: 201 with the Message resource (`sid` SM… or MM… with media, `status` "queued",
or "accepted" through a Messaging Service, `num_media`, `num_segments`, `uri`…).

Status callbacks
----------------
For each accepted message with a StatusCallback the peer posts its steps in order, each
after `delay_s` from the previous answer: `statuses=("sent", "delivered")` by default,
or per number `peer.statuses("+1…", "sent", Step("delivered", 2.0))`; `Step("failed",
error_code=30003)`, ("delivered", "sent") out of order, ("sent", "read") for WhatsApp,
() none. The form is `AccountSid, ApiVersion, From, MessageSid, MessageStatus, SmsSid,
SmsStatus, To` (+ `MessagingServiceSid`, `ErrorCode` on undelivered and failed, and
`ChannelPrefix`/`ChannelToAddress` on WhatsApp), `application/x-www-form-urlencoded`,
with `X-Twilio-Signature` = base64 HMAC-SHA1(auth token, URL + sorted name+value pairs)
and `I-Twilio-Idempotency-Token`. Twilio does not retry a status callback that is not
answered 2xx (unless the URL carries connection overrides): neither does the peer.

    peer.push_status(sid, "delivered")      # one more callback, signed
    peer.push(url, form, token="forged")    # any form, signed with another token
    peer.push(url, form, signature="")      # unsigned
    peer.push_incoming(url, "+1…", "+1…", "STOP")   # an incoming-message webhook

Records
-------
    peer.sends        # [Send(at, to, status_callback, status_code, error_code, sid)]
    peer.accepted     # [Accepted(sid, outgoing, at, steps)]; peer.by_sid[sid]
    peer.callbacks    # [Callback(sid, status, url, form, signature, answered, error)]
    peer.posted_by_attempt / accepted_by_attempt / accepted_twice()  # by the StatusCallback's
                      # `attempt` query parameter (what the opencomms connector puts there)
    peer.wait_settled(timeout) / await peer.settled(within_s)  # every callback answered
    peer.reset()

Assumptions (where the public documentation did not say)
--------------------------------------------------------
- Codes for a Messaging Service SID the account does not have (21701), too many media
  (21623) and an invalid ValidityPeriod (60200) are the peer's choice; Twilio's exact
  wording of messages is not reproduced beyond the error dictionary's titles.
- A path for another account is a 404 (20404), not a 401.
- No media is fetched, no segment is priced; `num_segments` counts 153-character parts.
- Callbacks go in the scripted order: Twilio does not promise any order.
"""

from tests.support.twilio_peer.api import ERRORS, ApiError, Outgoing
from tests.support.twilio_peer.callbacks import Callback, sign, status_form
from tests.support.twilio_peer.peer import Accepted, Send, Step, TwilioPeer

__all__ = [
    "ERRORS",
    "Accepted",
    "ApiError",
    "Callback",
    "Outgoing",
    "Send",
    "Step",
    "TwilioPeer",
    "sign",
    "status_form",
]
