"""Outbound event push to CRMs: signed webhooks with retries and a delivery log.

``types`` names the events, ``outbox`` writes them in the transaction of the change they
tell of and fans them out to subscriptions, ``payloads`` renders them (JSON or XML),
``signing`` signs them, ``sender`` POSTs them (the worker's tick), ``subscriptions`` and
``log`` are what the console and the API manage and read.
"""
