"""Who is calling and what they may spend: keys, budgets, limits, accounting."""
