"""Reading a page's POST form as a browser would submit it (hidden fields included)."""

from __future__ import annotations

from html.parser import HTMLParser

from flask.testing import FlaskClient


class FormReader(HTMLParser):
    """The values a browser would submit from the page's POST form."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.errors: list[str] = []
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None
        self._error_text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method") == "post":
            self._in_form = True
        elif tag == "p" and "field-error" in a.get("class", "").split():
            self._error_text = []
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.values[name] = a.get("value") or "y"
            else:
                self.values[name] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "textarea" and self._textarea:
            # Browsers drop one line break right after <textarea>; the HTML parser keeps it.
            text = self.values[self._textarea]
            self.values[self._textarea] = text[2:] if text.startswith("\r\n") else text
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "p" and self._error_text is not None:
            self.errors.append("".join(self._error_text).strip())
            self._error_text = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data
        if self._error_text is not None:
            self._error_text.append(data)


def read_form(html: str) -> FormReader:
    """The page's POST form: its values and the field errors shown."""
    reader = FormReader()
    reader.feed(html)
    reader.close()
    return reader


def open_form(client: FlaskClient, path: str) -> dict[str, str]:
    """Load a page and return what its form would submit unchanged."""
    page = client.get(path)
    assert page.status_code == 200
    return read_form(page.get_data(as_text=True)).values
