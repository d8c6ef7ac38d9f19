"""Economic accounting: pure functions from a run's activity tables and the economics config to a ledger.

Never imports the DES; reads RunOutput tables. ``compute(output, scenario)`` gives the ledger (period x
principal x account x amount), the yearly product result with the share of 0-price devices, and staff
costs beside busy hours. See docs/economics.md.
"""

from sim.economics.ledger import (
    CENTRE,
    COST_ACCOUNTS,
    REVENUE_ACCOUNTS,
    Economy,
    MoneyError,
    check_money,
    compute,
)

__all__ = ["CENTRE", "COST_ACCOUNTS", "REVENUE_ACCOUNTS", "Economy", "MoneyError", "check_money", "compute"]
