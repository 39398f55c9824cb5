"""HTX ``/ws/v2`` private payloads for the private decoder tests.

Sources: HTX spot API reference https://huobiapi.github.io/docs/spot/v1/en/ ("Subscribe order
updates", "Subscribe Account Change") and its announcements
https://www.htx.com/support/900000014146 (auth, accounts.update) and
https://www.huobi.com/support/en-us/detail/900000499563/ (orders#${symbol}). Where our search
tool returned a page only in excerpts, the example was taken from a client library that quotes
it verbatim with the docs' link; each constant names its copy. Whitespace is as quoted.
"""

# Auth request as in HTX's example (accessKey/timestamp/signature are the docs' placeholders).
AUTH_REQUEST = b"""{ "action": "req", "ch": "auth", "params": { "authType":"api", "accessKey": "sffd-ddfd-dfdsaf-dfdsafsd", "signatureMethod": "HmacSHA256", "signatureVersion": "2.1", "timestamp": "2019-09-01T18:16:16", "signature": "safsfdsjfljljdfsjfsjfsdfhsdkjfhklhsdlkfjhlksdfh" }}"""  # noqa: E501

# Auth success, https://www.htx.com/support/900000014146 ("The response of success").
AUTH_OK = b"""{ "action": "req", "code": 200, "ch": "auth", "data": {}}"""

# Auth failure as received by clients (quoted in several open-source HTX adapters, e.g. the
# tests of a Go HTX client and a TypeScript exchange client); not on the docs page itself.
AUTH_FAIL = b"""{"action":"req","code":2002,"ch":"auth","message":"auth.fail"}"""

# orders#${symbol} subscribe ack from the orders announcement (note the docs' leading space
# inside "ch", a typo on the page; live acks echo the channel as sent).
ORDERS_SUB_ACK = b"""{
      "action": "sub",
      "code": 200,
      "ch": " orders#btcusdt",
      "data": {}
}"""

# Order creation, cancellation and trade examples from "Subscribe order updates", as quoted in
# a Python client's test docstring (creation, cancellation) and a TypeScript client citing
# https://huobiapi.github.io/docs/spot/v1/en/#subscribe-order-updates (trade).
ORDER_CREATION = b"""{
    "action":"push",
    "ch":"orders#btcusdt",
    "data":
    {
        "orderSize":"2.000000000000000000",
        "orderCreateTime":1583853365586,
        "orderPrice":"77.000000000000000000",
        "type":"sell-limit",
        "orderId":27163533,
        "clientOrderId":"abc123",
        "orderStatus":"submitted",
        "symbol":"btcusdt",
        "eventType":"creation"
    }
}"""

ORDER_TRADE_FILLED = b"""{
    "action":"push",
    "ch":"orders#btcusdt",
    "data":
    {
        "tradePrice":"76.000000000000000000",
        "tradeVolume":"1.013157894736842100",
        "tradeId":301,
        "tradeTime":1583854188883,
        "aggressor":true,
        "remainAmt":"0.000000000000000400000000000000000000",
        "execAmt":"2",
        "orderId":27163536,
        "type":"sell-limit",
        "clientOrderId":"abc123",
        "orderSource":"spot-api",
        "orderPrice":"15000",
        "orderSize":"0.01",
        "orderStatus":"filled",
        "symbol":"btcusdt",
        "eventType":"trade"
    }
}"""

ORDER_CANCELLATION = b"""{
    "action":"push",
    "ch":"orders#btcusdt",
    "data":
    {
        "lastActTime":1583853475406,
        "remainAmt":"2.000000000000000000",
        "orderId":27163533,
        "type":"sell-limit",
        "clientOrderId":"abc123",
        "orderStatus":"canceled",
        "symbol":"btcusdt",
        "eventType":"cancellation"
    }
}"""

# accounts.update#${mode} examples, "Subscribe Account Change" (as in a markdown copy of the
# HTX docs; whitespace collapsed there, restored to one line per object here).
ACCOUNTS_SUB_ACK = b"""{
  "action": "sub",
  "code": 200,
  "ch": "accounts.update#0",
  "data": {}
}"""
ACCOUNT_BALANCE_MODE0 = b"""{ "action": "push", "ch": "accounts.update#0", "data": { "currency": "btc", "accountId": 123456, "balance": "23.111", "changeType": "transfer", "accountType":"trade", "seqNum": "86872993928", "changeTime": 1568601800000 } }"""  # noqa: E501
ACCOUNT_AVAILABLE_MODE1 = b"""{ "action": "push", "ch": "accounts.update#1", "data": { "currency": "btc", "accountId": 33385, "available": "2028.699426619837209087", "changeType": "order.match", "accountType":"trade", "seqNum": "86872993928", "changeTime": 1574393385167 } }"""  # noqa: E501
ACCOUNT_BALANCE_MODE1 = b"""{ "action": "push", "ch": "accounts.update#1", "data": { "currency": "btc", "accountId": 33385, "balance": "2065.100267619837209301", "changeType": "order.match", "accountType":"trade", "seqNum": "86872993928", "changeTime": 1574393385122 } }"""  # noqa: E501

# Server heartbeat on /ws/v2, https://www.htx.com/support/900000014146 ("Heartbeat").
PING = b"""{ "action": "ping", "data": { "ts": 1575537778295 }}"""
