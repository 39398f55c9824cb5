"""OKX v5 private-channel payloads for the private decoder tests.

OKX publishes its reference as one page (https://www.okx.com/docs-v5/en/) that our search tool
could not open whole; the constants below say where each byte string comes from. Only
``ORDER_FILLED_SPOT_DATA`` is OKX's own example, as quoted by a client library that names it
"push example from the OKX docs (WS Order channel)"; the envelopes around it are assembled
from the shapes the docs describe and are marked so.
"""

# Order-channel push example (SPOT limit sell 0.001 BTC-USDT filled at 31527.1 as maker),
# https://www.okx.com/docs-v5/en/#order-book-trading-trade-ws-order-channel, quoted verbatim
# (single line) in tonymontanov/go-okx spot tests as ``docsOrderPushFilled``.
ORDER_FILLED_SPOT_DATA = b'{"accFillSz":"0.001","algoClOrdId":"","algoId":"","amendResult":"","amendSource":"","avgPx":"31527.1","cancelSource":"","category":"normal","ccy":"","clOrdId":"","code":"0","cTime":"1654084334977","execType":"M","fee":"-0.02522168","feeCcy":"USDT","fillFee":"-0.02522168","fillFeeCcy":"USDT","fillNotionalUsd":"31.50818374","fillPx":"31527.1","fillSz":"0.001","fillPnl":"0.01","fillTime":"1654084353263","fillPxVol":"","fillPxUsd":"","fillMarkVol":"","fillFwdPx":"","fillMarkPx":"","fillIdxPx":"","instId":"BTC-USDT","instType":"SPOT","lever":"0","msg":"","notionalUsd":"31.50818374","ordId":"452197707845865472","ordType":"limit","pnl":"0","posSide":"","px":"31527.1","rebate":"0","rebateCcy":"BTC","reduceOnly":"false","reqId":"","side":"sell","source":"","state":"filled","sz":"0.001","tag":"","tdMode":"cash","tgtCcy":"","tradeId":"242589207","tradeQuoteCcy":"USDT","uTime":"1654084353264"}'  # noqa: E501

# The push envelope of the same docs example: ``arg`` echoes the subscription (the docs'
# example arg carries instId and the account ``uid`` "614488474791936"). Assembled here.
ORDER_FILLED_SPOT = (
    b'{"arg":{"channel":"orders","instType":"SPOT","instId":"BTC-USDT","uid":"614488474791936"},'
    b'"data":[' + ORDER_FILLED_SPOT_DATA + b"]}"
)

# Login replies. Success: the docs' shape; connId "a4d3ae55" is the id OKX's example uses
# (also seen in third-party login tests; **unverified** against the page itself). The failure
# frame is the one users report for a bad signature (developerload.com thread
# "How to sign OKEx API V5 login with websockets"), verbatim.
LOGIN_OK = b'{"event":"login","code":"0","msg":"","connId":"a4d3ae55"}'
LOGIN_INVALID_SIGN = b'{"event":"error","msg":"Invalid sign","code":"60007"}'
