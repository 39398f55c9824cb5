"""The fault matrix as a table: every registered venue x every simulator fault, each cell the
reaction seen and the time from the fault until every book hit was live again.

    PYTHONPATH=. python bench/faults.py [--venues binance,okx] [--faults drop,gap]

Runs ``feedhandler.sim.matrix`` (the same cells ``tests/sim/test_fault_matrix.py`` asserts);
exits 1 if any applicable cell fails.
"""

import sys

from feedhandler.sim.matrix import main

if __name__ == "__main__":
    sys.exit(main())
