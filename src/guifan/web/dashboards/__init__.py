"""Dashboards for team leads, supervisors and agents: a date range, the score distribution, agents
ranked by score and by clause, each clause's trend, the call KPIs, two periods compared, and every
chart's data as XLSX. Aggregated in the database within the caller's scope (docs/web.md)."""
