"""A test peer for Google RCS Business Messaging (RBM), written from Google's public
documentation: a real HTTP server on 127.0.0.1 that issues OAuth tokens for a minted
service account, accepts or refuses agent messages as the RBM API does, keeps state,
and pushes correctly signed events to the configured webhook.

Use
---
    with RbmPeer(tmp_path, agent_id="my-agent") as peer:
        peer.url            # the connector's base_url (the API is under /v1)
        peer.key_file       # the service-account JSON (service_account_file);
                            # its token_uri is the peer's own {url}/token
        peer.agent_id
        peer.client_token   # the webhook's clientToken (settable)
        peer.register_webhook(f"{app}/webhooks/{connector}")  # the handshake; events
                                                      # then go there (Handshake.ok)
        peer.set_webhook(url)                         # ... or without the handshake

The peer runs uvicorn in its own thread and event loop, so it serves sync tests, async
tests and a separate `opencomms serve` process alike. Every call below is safe from the
test's thread; `aregister_webhook` and `until` are the variants for async tests whose
event loop must keep running (e.g. when it serves the webhook).

Steering (any time):
    peer.options.token_lifetime = 5     # seconds (expires_in of new tokens)
    peer.options.delivery_delay = 0.0   # accept → DELIVERED
    peer.options.read = True            # READ after each DELIVERED
    peer.options.read_first = True      # ... pushed before it (out of order)
    peer.options.events_before_answer = True  # DELIVERED pushed before the 200 answer
    peer.options.expiry_events = True   # TTL_EXPIRATION_REVOKED for expired held messages
    peer.options.duplicate_status = 409 # a reused messageId: 409 ALREADY_EXISTS, or 200
    peer.options.answer_delay = 0.0     # seconds before each send is answered
    peer.options.revoke_race = True     # revoke answers 200 and the message is delivered
                                        # anyway; expiry: TTL_EXPIRATION_REVOKE_FAILED
    peer.unreachable(*numbers)          # not RCS-capable: 404 NOT_FOUND
    peer.offline(*numbers); peer.come_online(number)   # held, then delivered if live
    peer.fail(number_or_None, 429|500|503|..., times=1, after_accept=False)
    peer.fail_token_requests(status=500, times=1); peer.expire_tokens()
    peer.clear_failures()               # forget the scripted failures not yet used
    peer.stranger()                     # a ServiceAccount the peer does not know
    peer.hold_events(); peer.release_events(reverse=False)   # late / out of order
    peer.duplicate_events(copies=2)     # each event pushed again (same Pub/Sub id)
    peer.push_user_message(number, text="STOP") / (number, suggestion=(text, postback))
    peer.push_event(event, signing="" | FORGED | UNSIGNED); peer.push_raw(bytes, ...)
    peer.user_event(number, "READ", message_id)   # an event JSON to push

Records:
    peer.message(id) / peer.messages(state=None) → Accepted (phone, body, state:
        queued|delivered|revoked|expired, deliveries, expires_at, send_time)
    peer.posts(id)          # POSTs of a messageId, whatever the answer
    peer.answers(id=None)   # (messageId, phone, status) of every POST
    peer.delivered_to(number); peer.delivered_by_phone()  # {phone: [messageId, ...]}
    peer.delivered_twice()  # messageIds that reached a phone twice: must stay []
    peer.revocations(); peer.tokens(); peer.pushes(event_type=None) (each attempt and
        the webhook's answer); peer.pending_events(); peer.records (raw)
    peer.wait(check, timeout=30) / await peer.until(check, within=30)

Behaviour, from the documentation
---------------------------------
- Token endpoint: form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and
  `assertion`; the RS256 JWT must verify with the account's key (`kid`, when present,
  is its private_key_id), `iss` its client_email, `aud` Google's documented
  https://oauth2.googleapis.com/token (what google-auth sends whatever the token_uri)
  or the key's token_uri, `scope` known, `exp - iat` at most 3600 s; the answer is
  `{access_token, expires_in, token_type: "Bearer"}` or 400 `{error,
  error_description}` (invalid_grant, invalid_scope, invalid_request,
  unsupported_grant_type).
- The API wants `Authorization: Bearer` with a live token: missing, unknown or expired
  gives 401 UNAUTHENTICATED, a token without the rcsbusinessmessaging (or
  cloud-platform) scope 403 PERMISSION_DENIED. Errors are Google's JSON error body.
- `POST /v1/phones/{E.164}/agentMessages?messageId=&agentId=`: messageId a UUID,
  agentId the peer's agent; the body an AgentMessage: contentMessage with exactly one
  of text (≤ 3,072 chars), fileName, uploadedRbmFile, richCard, contentInfo;
  suggestions ≤ 11 (≤ 4 per card), suggestion text ≤ 25, postbackData ≤ 2,048;
  standalone card (cardOrientation required; cardContent with one of title ≤ 200,
  description ≤ 2,000, media; a horizontal card with media needs more than the media)
  or carousel (cardWidth SMALL|MEDIUM, 2 to 10 cards, no TALL media in SMALL cards);
  media height SHORT|MEDIUM|TALL; at most one of ttl ("3.5s") and expireTime, neither
  more than 15 days ahead; the whole body ≤ 250 KB; unknown fields refused; 400
  INVALID_ARGUMENT otherwise.
- Not RCS-capable → 404 NOT_FOUND. Accepted → 200 with the AgentMessage (name,
  sendTime, contentMessage, expireTime when ttl or expireTime was given). Offline
  phones' messages are held; held messages past their expiry are never delivered.
- Revoke (`DELETE .../agentMessages/{messageId}?agentId=`): 200 `{}` when the message
  is revoked (it is then never delivered), 404 when already delivered or unknown.
- Webhook events: Pub/Sub push JSON, `X-Goog-Signature` = base64(HMAC-SHA512(
  clientToken, base64-decoded message.data)); UserEvent (senderPhoneNumber, eventType,
  eventId, messageId, sendTime, agentId), UserMessage (senderPhoneNumber, messageId,
  sendTime, agentId, text | suggestionResponse{postbackData, text, type}), ServerEvent
  (phoneNumber, messageId, agentId, eventType TTL_EXPIRATION_REVOKED or
  TTL_EXPIRATION_REVOKE_FAILED, eventId, sendTime). A non-2xx answer (or none) is
  retried with exponential backoff (`min_backoff`..`max_backoff`, short by default)
  for `retry_for` seconds.

Assumptions (where the documentation is silent or unclear)
----------------------------------------------------------
- A reused messageId: the docs say the platform "ignores" it. The peer never queues it
  again and answers 409 ALREADY_EXISTS (`options.duplicate_status = 200` answers the
  first message's resource instead); the POST is counted either way.
- A wrong agentId answers 403 PERMISSION_DENIED; a missing one 400. A non-E.164 phone
  and a non-UUID messageId answer 400 INVALID_ARGUMENT.
- Checks run in this order: auth, query parameters (one the method does not have is
  refused with 400, as Google's front end does; the token must come in the header),
  agentId, phone, messageId, body, scripted failure, reused messageId, capability
  (404), accept.
- Only lowerCamelCase JSON names and enum names are accepted (Google's parser also takes
  snake_case names and enum numbers); output-only fields (name, sendTime, ...) in a
  request are ignored. messageTrafficType is checked against AUTHENTICATION,
  TRANSACTION, PROMOTION, SERVICEREQUEST, ACKNOWLEDGEMENT (and UNSPECIFIED).
- Text and titles must be non-empty where required; URLs must be absolute http(s), at
  most 2,048 chars; media height may be left out; a ttl must be positive; an expireTime
  in the past is accepted and the message then expires at once. Files are not fetched:
  a contentInfo URL is never checked for reachability, size or MIME type.
- Revoking a message already revoked or expired answers 200 again.
- Token error descriptions are Google's wording as far as known; unknown iss answers
  invalid_grant "account not found"; iat/exp get 300 s of clock skew.
- Pushes wait while no webhook is set (as a Pub/Sub backlog); order among concurrent
  pushes is not guaranteed; a duplicate is the same Pub/Sub message pushed again.
- An unknown URL or method answers an HTML 404 page, as Google's front end does, not
  the API's JSON NOT_FOUND.
- A message posted to an online phone is delivered `delivery_delay` after it is
  accepted; the capability check (`GET /v1/phones/{E.164}/capabilities?requestId=`)
  answers a fixed feature list.
"""

from tests.support.rbm_peer.keys import ServiceAccount, sign_jwt
from tests.support.rbm_peer.peer import FORGED, UNSIGNED, Handshake, RbmPeer
from tests.support.rbm_peer.platform import RBM_SCOPE, Options
from tests.support.rbm_peer.records import Accepted, Push, Revocation, Token
from tests.support.rbm_peer.webhooks import sign

__all__ = [
    "FORGED",
    "RBM_SCOPE",
    "UNSIGNED",
    "Accepted",
    "Handshake",
    "Options",
    "Push",
    "RbmPeer",
    "Revocation",
    "ServiceAccount",
    "Token",
    "sign",
    "sign_jwt",
]
