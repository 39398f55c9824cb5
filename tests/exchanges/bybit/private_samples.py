"""Bybit v5 private-stream payloads, verbatim from Bybit's docs, for the private decoder tests.

Source: the Bybit API docs repository (bybit-exchange/docs), pages published at
https://bybit-exchange.github.io/docs/v5/websocket/private/<topic>. Each constant is the
page's "Stream Example" (or subscribe/auth example) as published, whitespace and all.
"""

# https://bybit-exchange.github.io/docs/v5/ws/connect (source in bybit-exchange/docs:
# docs/v5/websocket/wss-authentication.mdx): "Successful authentication sample response",
# private subscribe ack, private pong.
AUTH_SUCCESS = b"""{
    "success": true,
    "ret_msg": "",
    "op": "auth",
    "conn_id": "cejreaspqfh3sjdnldmg-p"
}"""
PRIVATE_SUBSCRIBE_ACK = b"""{
    "success": true,
    "ret_msg": "",
    "op": "subscribe",
    "conn_id": "cejreassvfrsfvb9v1a0-2m"
}"""
PRIVATE_PONG = b"""{
    "req_id": "test",
    "op": "pong",
    "args": [
        "1675418560633"
    ],
    "conn_id": "cfcb4ocsvfriu23r3er0-1b"
}"""

# The older v3 copy-trading page's success sample, which echoes the request
# (https://bybit-exchange.github.io/doc-v3-offline/copy-trade/ws/connect): decoders should accept
# both shapes.
AUTH_SUCCESS_WITH_REQUEST = b"""{
"success": true,
"ret_msg": "",
"conn_id": "16c79bf6-267d-4e06-a0c1-3ca4ed3a293d",
"request": {
"op": "auth",
"args": [
"OZUDHROKUZZNVZWHKN",
"1673261297304",
"63ae5f1064130d8e931b5d937500461b87c00b2a939284e455fe8ea1e27387f6"
]
}
}"""

# https://bybit-exchange.github.io/docs/v5/websocket/private/order ("Stream Example"):
# an option market order, orderStatus Filled, with cumFeeDetail.
ORDER_FILLED_OPTION = b"""{
    "id": "5923240c6880ab-c59f-420b-9adb-3639adc9dd90",
    "topic": "order",
    "creationTime": 1672364262474,
    "data": [
        {
            "symbol": "ETH-30DEC22-1400-C",
            "orderId": "5cf98598-39a7-459e-97bf-76ca765ee020",
            "side": "Sell",
            "orderType": "Market",
            "cancelType": "UNKNOWN",
            "price": "72.5",
            "qty": "1",
            "orderIv": "",
            "timeInForce": "IOC",
            "orderStatus": "Filled",
            "orderLinkId": "",
            "lastPriceOnCreated": "",
            "reduceOnly": false,
            "leavesQty": "",
            "leavesValue": "",
            "cumExecQty": "1",
            "cumExecValue": "75",
            "avgPrice": "75",
            "blockTradeId": "",
            "positionIdx": 0,
            "cumExecFee": "0.358635",
            "closedPnl": "0",
            "createdTime": "1672364262444",
            "updatedTime": "1672364262457",
            "rejectReason": "EC_NoError",
            "stopOrderType": "",
            "tpslMode": "",
            "triggerPrice": "",
            "takeProfit": "",
            "stopLoss": "",
            "tpTriggerBy": "",
            "slTriggerBy": "",
            "tpLimitPrice": "",
            "slLimitPrice": "",
            "triggerDirection": 0,
            "triggerBy": "",
            "closeOnTrigger": false,
            "category": "option",
            "placeType": "price",
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "feeCurrency": "",
            "cumFeeDetail": {
                "MNT": "0.00242968"
            }
        }
    ]
}"""

# https://bybit-exchange.github.io/docs/v5/websocket/private/execution ("Stream Example"):
# a linear taker fill of a market order.
EXECUTION_LINEAR = b"""{
    "id": "592324803b2785-26fa-4214-9963-bdd4727f07be",
    "topic": "execution",
    "creationTime": 1672364174455,
    "data": [
        {
            "category": "linear",
            "symbol": "XRPUSDT",
            "execFee": "0.005061",
            "execId": "7e2ae69c-4edf-5800-a352-893d52b446aa",
            "execPrice": "0.3374",
            "execQty": "25",
            "execType": "Trade",
            "execValue": "8.435",
            "isMaker": false,
            "feeRate": "0.0006",
            "tradeIv": "",
            "markIv": "",
            "blockTradeId": "",
            "markPrice": "0.3391",
            "indexPrice": "",
            "underlyingPrice": "",
            "leavesQty": "0",
            "orderId": "f6e324ff-99c2-4e89-9739-3086e47f9381",
            "orderLinkId": "",
            "orderPrice": "0.3207",
            "orderQty": "25",
            "orderType": "Market",
            "stopOrderType": "UNKNOWN",
            "side": "Sell",
            "execTime": "1672364174443",
            "isLeverage": "0"
        }
    ]
}"""

# https://bybit-exchange.github.io/docs/v5/websocket/private/wallet ("Stream Example"),
# first two coins of the doc's six kept verbatim; the rest are the same shape.
WALLET = b"""{
    "id": "5923242c464be9-25ca-483d-a743-c60101fc656f",
    "topic": "wallet",
    "creationTime": 1672364262482,
    "data": [
        {
            "accountIMRate": "0.016",
            "accountMMRate": "0.003",
            "totalEquity": "12837.78330098",
            "totalWalletBalance": "12840.4045924",
            "totalMarginBalance": "12837.78330188",
            "totalAvailableBalance": "12632.05767702",
            "totalPerpUPL": "-2.62129051",
            "totalInitialMargin": "205.72562486",
            "totalMaintenanceMargin": "39.42876721",
            "coin": [
                {
                    "coin": "USDC",
                    "equity": "200.62572554",
                    "usdValue": "200.62572554",
                    "walletBalance": "201.34882644",
                    "availableToWithdraw": "0",
                    "availableToBorrow": "1500000",
                    "borrowAmount": "0",
                    "accruedInterest": "0",
                    "totalOrderIM": "0",
                    "totalPositionIM": "202.99874213",
                    "totalPositionMM": "39.14289747",
                    "unrealisedPnl": "74.2768991",
                    "cumRealisedPnl": "-209.1544627",
                    "bonus": "0"
                },
                {
                    "coin": "BTC",
                    "equity": "0.06488393",
                    "usdValue": "1023.08402268",
                    "walletBalance": "0.06488393",
                    "availableToWithdraw": "0.06488393",
                    "availableToBorrow": "2.5",
                    "borrowAmount": "0",
                    "accruedInterest": "0",
                    "totalOrderIM": "0",
                    "totalPositionIM": "0",
                    "totalPositionMM": "0",
                    "unrealisedPnl": "0",
                    "cumRealisedPnl": "0",
                    "bonus": "0"
                }
            ],
            "accountType": "UNIFIED",
            "accountLTV": "0.017"
        }
    ]
}"""

# https://bybit-exchange.github.io/docs/v5/websocket/private/position ("Stream Example"):
# a flat linear position (size 0) after a close, with the cross sequence ``seq``.
POSITION_LINEAR = b"""{
    "id": "1003076014fb7eedb-c7e6-45d6-a8c1-270f0169171a",
    "topic": "position",
    "creationTime": 1697682317044,
    "data": [
        {
            "positionIdx": 2,
            "tradeMode": 0,
            "riskId": 1,
            "riskLimitValue": "2000000",
            "symbol": "BTCUSDT",
            "side": "",
            "size": "0",
            "entryPrice": "0",
            "leverage": "10",
            "positionValue": "0",
            "positionBalance": "0",
            "markPrice": "28184.5",
            "positionIM": "0",
            "positionMM": "0",
            "takeProfit": "0",
            "stopLoss": "0",
            "trailingStop": "0",
            "unrealisedPnl": "0",
            "curRealisedPnl": "1.26",
            "cumRealisedPnl": "-25.06579337",
            "sessionAvgPrice": "0",
            "createdTime": "1694402496913",
            "updatedTime": "1697682317038",
            "tpslMode": "Full",
            "liqPrice": "0",
            "bustPrice": "",
            "category": "linear",
            "positionStatus": "Normal",
            "adlRankIndicator": 0,
            "autoAddMargin": 0,
            "leverageSysUpdatedTime": "",
            "mmrSysUpdatedTime": "",
            "seq": 8327597863,
            "isReduceOnly": false
        }
    ]
}"""

# https://bybit-exchange.github.io/docs/v5/websocket/trade/guideline ("Authentication",
# response example of the order-entry endpoint's auth; retCode 10004 = invalid sign there).
TRADE_AUTH_OK = b"""{
    "retCode": 0,
    "retMsg": "OK",
    "op": "auth",
    "connId": "cnt5leec0hvan15eukcg-2t"
}"""
