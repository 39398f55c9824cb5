"""Kraken spot WS v2 private payloads (executions, balances) and the token reply, verbatim.

Sources: https://docs.kraken.com/api/docs/websocket-v2/executions,
https://docs.kraken.com/api/docs/websocket-v2/balances (also served, with the same examples,
at https://docs.kraken.com/exchange/api-reference/spot-websocket-v2/<channel> and its mirror
kraken-sandbox.mintlify.app, where our search tool read the update examples), and
https://docs.kraken.com/api/docs/rest-api/get-websockets-token.
"""

# GetWebSocketsToken response example (token valid 900 s).
TOKEN_RESPONSE = b"""{
  "error": [],
  "result": {
    "token": "1Dwc4lzSwNWOAwkMdqhssNNFhs1ed606d1WcF3XfEMw",
    "expires": 900
  }
}"""

# executions: "Example: Subscribe" and "Example: Subscribe Ack".
EXECUTIONS_SUBSCRIBE = b"""{
"method": "subscribe",
"params": {
"channel": "executions",
"token": "G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY",
"snap_orders": true,
"snap_trades": true
}
}"""
EXECUTIONS_SUBSCRIBE_ACK = b"""{
"method": "subscribe",
"result": {
"channel": "executions",
"maxratecount": 125,
"snap_orders": true,
"snap_trades": true
},
"success": true,
"time_in": "2023-10-16T13:18:35.303171Z",
"time_out": "2023-10-16T13:18:35.318297Z"
}"""

# executions: "Example: Pending" (a new limit sell acknowledged before it goes live).
EXECUTION_PENDING_NEW = b"""{
    "channel": "executions",
    "type": "update",
    "data": [
        {
            "order_id": "OK4GJX-KSTLS-7DZZO5",
            "order_userref": 3,
            "symbol": "BTC/USD",
            "order_qty": 0.005,
            "cum_cost": 0.0,
            "time_in_force": "GTC",
            "exec_type": "pending_new",
            "side": "sell",
            "order_type": "limit",
            "limit_price_type": "static",
            "limit_price": 26500.0,
            "stop_price": 0.0,
            "order_status": "pending_new",
            "fee_usd_equiv": 0.0,
            "fee_ccy_pref": "fciq",
            "timestamp": "2023-09-22T10:33:05.709950Z"
        }
    ],
    "sequence": 8
}"""

# executions: "Example: Live Order" and "Example: Execution" (the same order going live, then a
# fill). Our search tool did not return these two from the docs page itself; they are the page's
# examples as reproduced, identically, in several markdown copies of it in our index.
EXECUTION_NEW = b"""{
  "channel": "executions",
  "type": "update",
  "data": [
    {
      "timestamp": "2023-09-22T10:33:05.709982Z",
      "order_status": "new",
      "exec_type": "new",
      "order_userref": 3,
      "order_id": "OK4GJX-KSTLS-7DZZO5"
    }
  ],
  "sequence": 9
}"""
EXECUTION_TRADE = b"""{
  "channel": "executions",
  "type": "update",
  "data": [
    {
      "order_id": "OK4GJX-KSTLS-7DZZO5",
      "order_userref": 3,
      "exec_id": "TGBB7L-HT5LX-J3BZ4A",
      "exec_type": "trade",
      "trade_id": 62887576,
      "symbol": "BTC/USD",
      "side": "sell",
      "last_qty": 0.005,
      "last_price": 26599.9,
      "liquidity_ind": "t",
      "cost": 132.9995,
      "order_type": "limit",
      "timestamp": "2023-09-22T10:33:05.709993Z",
      "order_status": "partially_filled",
      "cum_qty": 0.005,
      "cum_cost": 132.9995,
      "avg_price": 26599.9,
      "fee_usd_equiv": 0.3458,
      "fees": [
        {
          "asset": "USD",
          "qty": 0.3458
        }
      ]
    }
  ],
  "sequence": 10
}"""

# balances: "Example: Subscribe Ack", "Example: Snapshot", "Example: Deposit Update".
BALANCES_SUBSCRIBE_ACK = b"""{
"method": "subscribe",
"result": {
"channel": "balances",
"snapshot": true
},
"success": true,
"time_in": "2023-10-16T13:29:13.111530Z",
"time_out": "2023-10-16T13:29:13.111775Z"
}"""
BALANCES_SNAPSHOT = b"""{
    "channel": "balances",
    "data": [
        {
            "asset": "BTC",
            "asset_class": "currency",
            "balance": 1.2,
            "wallets": [
                {
                    "type": "spot",
                    "id": "main",
                    "balance": 1.2
                }
            ]
        },
        {
            "asset": "MATIC",
            "asset_class": "currency",
            "balance": 500,
            "wallets": [
                {
                    "type": "spot",
                    "id": "main",
                    "balance": 300
                },
                {
                    "type": "earn",
                    "id": "flex",
                    "balance": 200
                }
            ]
        },
        {
            "asset": "USD",
            "asset_class": "currency",
            "balance": 80595.4943,
            "wallets": [
                {
                    "type": "spot",
                    "id": "main",
                    "balance": 80595.4943
                }
            ]
        }
    ],
    "type": "snapshot",
    "sequence": 1
}"""
BALANCES_DEPOSIT_UPDATE = b"""{
   "channel": "balances",
   "type": "update",
   "data": [
      {
         "ledger_id": "ADKKFF-WEA5A-CNUBHG",
         "ref_id": "AGBWUJRU-LAREZ-W3UFAN",
         "timestamp": "2023-09-22T10:23:42.925034Z",
         "type": "deposit",
         "asset": "BTC",
         "asset_class": "currency",
         "category": "deposit",
         "wallet_type": "spot",
         "wallet_id": "main",
         "amount": 0.01,
         "fee": 0.0,
         "balance": 0.02
      }
   ],
   "sequence": 2
}"""
