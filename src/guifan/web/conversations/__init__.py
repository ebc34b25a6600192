"""The conversation lists and the review page: paging, sorting, saved filters, bulk actions,
findings beside their turns, the recording's player (docs/web.md)."""
