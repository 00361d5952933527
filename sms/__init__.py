"""Everything a customer does by text: inbound commands, opt-outs, replies (see docs/sms.md)."""
