"""Our voice webhook URLs, with the attempt id signed into them."""

from __future__ import annotations

from itsdangerous import BadSignature, Signer


class WebhookUrls:
    """Our webhook URLs, with the attempt id signed into them (Vonage's signature does not
    cover the URL, so the id must not be forgeable on its own)."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.base = base_url
        self.signer = Signer(secret, salt="attempt-webhook")

    def token(self, attempt_id: int) -> str:
        return self.signer.sign(str(attempt_id)).decode()

    def attempt_id(self, token: str) -> int:
        try:
            return int(self.signer.unsign(token))
        except (BadSignature, ValueError):
            raise LookupError("unknown attempt") from None

    def answer(self, provider: str, attempt_id: int) -> str:
        return f"{self.base}/webhooks/{provider}/voice/answer/{self.token(attempt_id)}"

    def event(self, provider: str, attempt_id: int) -> str:
        return f"{self.base}/webhooks/{provider}/voice/event/{self.token(attempt_id)}"

    def menu(self, provider: str, attempt_id: int) -> str:
        return f"{self.base}/webhooks/{provider}/voice/menu/{self.token(attempt_id)}/{{step}}"

    def dial(self, provider: str, attempt_id: int) -> str:
        return f"{self.base}/webhooks/{provider}/voice/dial/{self.token(attempt_id)}"
