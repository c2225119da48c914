"""The domain: catalog, inventory, orders, tickets, agents, money and the ledger."""
