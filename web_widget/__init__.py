"""The public JSON API (v1); the hosted booking page and widget.js come later here."""
