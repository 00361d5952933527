"""The supervisor console: server-rendered pages for supervisors and admins (issue 7)."""
