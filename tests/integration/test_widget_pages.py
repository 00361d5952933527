"""/widget.js and /widget-demo."""

from __future__ import annotations

from flask.testing import FlaskClient

from web_widget.pages import WIDGET_JS


def test_widget_js_is_served_as_javascript_with_cache_headers(client: FlaskClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.get_data() == WIDGET_JS.read_bytes()
    assert response.cache_control.public and response.cache_control.max_age == 300
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    etag = response.headers["ETag"]
    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_the_demo_page_embeds_the_widget_from_the_public_url(client: FlaskClient) -> None:
    response = client.get("/widget-demo")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<script src="http://127.0.0.1:5000/widget.js" data-queue="support" async></script>' in page
    assert 'data-phone-input="demo-phone" data-button="demo-call"' in page
