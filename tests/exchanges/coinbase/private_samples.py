"""Coinbase Advanced Trade user-channel payloads for the private decoder tests.

Our search tool could not return the docs' ``user`` message example
(https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels,
"User Channel") in full, so no user order message is given here as verbatim; the field list
the decoder needs is in docs/venues/coinbase.md ("Private streams"), taken from Coinbase's own
SDK types. What is here is verbatim where a source is named.
"""

# Error reply to a subscribe whose JWT is refused, as received by SDK users
# (https://github.com/coinbase/coinbase-advanced-py/issues/92, /issues/64, /issues/19).
AUTH_FAILURE = b'{"type":"error","message":"authentication failure"}'

# The docs' heartbeats example (https://docs.cloud.coinbase.com/advanced-trade-api/docs/ws-channels,
# "Heartbeats Channel"). Verbatim, including the trailing comma after heartbeat_counter:
# the prose example is not valid JSON, and heartbeat_counter is a string there while the
# AsyncAPI spec (verified against production) says integer. A decoder must accept the
# integer form and refuse this one with a typed error.
HEARTBEATS_DOC_PROSE = b"""{
"channel": "heartbeats",
"client_id": "",
"timestamp": "2023-06-23T20:31:26.122969572Z",
"sequence_num": 0,
"events": [
{
"current_time": "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105",
"heartbeat_counter": "3049",
}
]
}"""

# The docs' subscribe request shape (same page), for the user channel instead of heartbeats;
# "XYZ" is the docs' JWT placeholder.
USER_SUBSCRIBE = b"""{
"type": "subscribe",
"product_ids": [
"BTC-USD"
],
"channel": "user",
"jwt": "XYZ"
}"""
