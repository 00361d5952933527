"""The dialer: claim due callbacks with a lease, place the calls, and act on what the
provider reports. The rules (retry policy, outcomes, life cycle, pacing) live in
scheduler/; these modules load, save and talk to providers.

- ``claims``: taking due callbacks (leases, each queue's call limit, one call per number,
  the providers' pace);
- ``dialer``: the ``Dialer`` a worker runs: places the claimed calls and saves what the
  providers answered;
- ``reconcile``: leases that ran out, settled by asking the provider;
- ``call_reports``: applying call-progress reports (outcomes, retries, rebooking);
- ``voice_answers``: what the called party hears (the voice webhooks' answers);
- ``urls``: our webhook URLs, the attempt signed into them.

A claim and its attempt row are committed before the provider is asked to call, and
the attempt's id travels in the webhook URLs, so a worker that dies at any point
leaves a row that is reconciled (never a lost or doubled dial).
"""
