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

# "Login" section of https://www.okx.com/docs-v5/en/#overview-websocket-login, read in a
# markdown copy of the OKX v5 docs: request, successful and failure response examples, verbatim.
# (The docs' ``sign`` is not reproducible: it does not match the docs' example secretKey
# 22582BD0CFF14C41EDBF1AB98506286D for this timestamp; it is a placeholder.)
LOGIN_REQUEST = b"""{
  "op": "login",
  "args": [
    {
      "apiKey": "985d5b66-57ce-40fb-b714-afc0b9787083",
      "passphrase": "123456",
      "timestamp": "1538054050",
      "sign": "7L+zFQ+CEgGu5rzCj4+BdV2/uUHGqddA9pI6ztsRRPs="
    }
  ]
}"""
LOGIN_OK = b"""{
  "event": "login",
  "code": "0",
  "msg": "",
  "connId": "a4d3ae55"
}"""
LOGIN_FAILED = b"""{
  "event": "error",
  "code": "60009",
  "msg": "Login failed.",
  "connId": "a4d3ae55"
}"""

# A user's verbatim reply for a bad signature (developerload.com thread "How to sign OKEx API
# V5 login with websockets using HMAC SHA256 encryption and Base64 encoding").
LOGIN_INVALID_SIGN = b'{"event":"error","msg":"Invalid sign","code":"60007"}'

# Positions channel "Push Data Example",
# https://www.okx.com/docs-v5/en/#trading-account-websocket-positions-channel (same markdown
# copy): a paged snapshot; the first of the docs' two positions kept verbatim.
POSITIONS_SNAPSHOT = b"""{
    "arg": {
        "channel": "positions",
        "uid": "77982378738415879",
        "instType": "ANY"
    },
  "eventType": "snapshot",
    "curPage": 1,
    "lastPage": true,
    "data": [
    {
      "adl":"1",
      "availPos":"1",
      "avgPx":"2566.31",
      "cTime":"1619507758793",
      "ccy":"ETH",
      "deltaBS":"",
      "deltaPA":"",
      "gammaBS":"",
      "gammaPA":"",
      "imr":"",
      "instId":"ETH-USD-210430",
      "instType":"FUTURES",
      "interest":"0",
      "idxPx":"2566.13",
      "last":"2566.22",
      "usdPx":"",
      "bePx":"2353.949",
      "lever":"10",
      "liab":"",
      "liabCcy":"",
      "liqPx":"2352.8496681818233",
      "markPx":"2353.849",
      "margin":"0.0003896645377994",
      "mgnMode":"isolated",
      "mgnRatio":"11.731726509588816",
      "mmr":"0.0000311811092368",
      "notionalUsd":"2276.2546609009605",
      "optVal":"",
      "pTime":"1619507761462",
      "pendingCloseOrdLiabVal":"0.1",
      "pos":"1",
      "baseBorrowed": "",
      "baseInterest": "",
      "quoteBorrowed": "",
      "quoteInterest": "",
      "posCcy":"",
      "posId":"307173036051017730",
      "posSide":"long",
      "spotInUseAmt": "",
      "clSpotInUseAmt": "",
      "maxSpotInUseAmt": "",
      "spotInUseCcy": "",
      "bizRefId": "",
      "bizRefType": "",
      "thetaBS":"",
      "thetaPA":"",
      "tradeId":"109844",
      "uTime":"1619507761462",
      "upl":"-0.0000009932766034",
      "uplLastPx":"-0.0000009932766034",
      "uplRatio":"-0.0025490556801078",
      "uplRatioLastPx":"-0.0025490556801078",
      "vegaBS":"",
      "vegaPA":"",
      "realizedPnl":"0.001",
      "pnl":"0.0011",
      "fee":"-0.0001",
      "fundingFee":"0",
      "liqPenalty":"0",
      "nonSettleAvgPx":"",
      "settledPnl":"",
      "closeOrderAlgo":[
          {
              "algoId":"123",
              "slTriggerPx":"123",
              "slTriggerPxType":"mark",
              "tpTriggerPx":"123",
              "tpTriggerPxType":"mark",
              "closeFraction":"0.6"
          },
          {
              "algoId":"123",
              "slTriggerPx":"123",
              "slTriggerPxType":"mark",
              "tpTriggerPx":"123",
              "tpTriggerPxType":"mark",
              "closeFraction":"0.4"
          }
      ]
    }
  ]
}"""
