"""Gate.io spot WS v4 private-channel payloads for the private decoder tests.

Gate.io's examples live on https://www.gate.com/docs/developers/apiv4/ws/en (sections
"Orders Channel", "User Trades Channel", "Spot Balance Channel", "API Overview"). Our search
tool returned that page only in excerpts, so the notification bodies below are the docs'
examples as copied into thrasher-corp/gocryptotrader's gateio websocket tests (which carry
the docs' ids and timestamps); their tab whitespace is normalised, the content is unchanged.
Field meanings: docs/venues/gateio.md, "Private streams".
"""

# "Orders Channel" notification: a limit sell put on the book (event "put"), nothing filled.
ORDER_PUT = b"""{"time": 1605175506, "channel": "spot.orders", "event": "update", "result": [
  {"id": "30784435", "user": 123456, "text": "t-abc", "create_time": "1605175506",
   "create_time_ms": "1605175506123", "update_time": "1605175506",
   "update_time_ms": "1605175506123", "event": "put", "currency_pair": "BTC_USDT",
   "type": "limit", "account": "spot", "side": "sell", "amount": "1", "price": "10001",
   "time_in_force": "gtc", "left": "1", "filled_total": "0", "fee": "0",
   "fee_currency": "USDT", "point_fee": "0", "gt_fee": "0", "gt_discount": true,
   "rebated_fee": "0", "rebated_fee_currency": "USDT"}]}"""

# "User Trades Channel" notification: one taker fill of order 30784428.
USER_TRADE = b"""{"time": 1605176741, "channel": "spot.usertrades", "event": "update", "result": [
  {"id": 5736713, "user_id": 1000001, "order_id": "30784428", "currency_pair": "BTC_USDT",
   "create_time": 1605176741, "create_time_ms": "1605176741123.456", "side": "sell",
   "amount": "1.00000000", "role": "taker", "price": "10000.00000000",
   "fee": "0.00200000000000", "point_fee": "0", "gt_fee": "0", "text": "apiv4"}]}"""

# "Spot Balance Channel" notification.
BALANCE = b"""{"time": 1605248616, "channel": "spot.balances", "event": "update", "result": [
  {"timestamp": "1605248616", "timestamp_ms": "1605248616123", "user": "1000001",
   "currency": "USDT", "change": "100", "total": "1032951.325075926",
   "available": "1022943.325075926"}]}"""

# "API Overview" subscribe replies, as quoted from the docs in barter-data's gateio
# message.rs (docs.rs), verbatim except that the docs' failure example has a trailing comma
# after "result": null, dropped here so the bytes are JSON.
SUBSCRIBE_OK = b"""{
"time": 1606292218,
"time_ms": 1606292218231,
"channel": "spot.trades",
"event": "subscribe",
"result": {
"status": "success"
}
}"""
SUBSCRIBE_ERROR = b"""{
"time": 1606292218,
"time_ms": 1606292218231,
"channel": "spot.trades",
"event": "subscribe",
"error":{
"code":2,
"message":"unknown currency pair GIBBERISH_USD"
},
"result": null
}"""
