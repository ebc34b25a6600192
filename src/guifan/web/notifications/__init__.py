"""Notifications: agents learn of new findings on their conversations and of decided appeals,
reviewers of conversations assigned to them; unread ones counted in the page header, listed on
/notifications and under /api/v1/notifications, and mailed through the company's SMTP server when
it is configured (docs/web.md)."""
