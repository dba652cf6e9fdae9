"""Every page the demo data links to, as every role, in both languages: no words of the other one.

What people typed (case descriptions, comments, file names, names) is marked ``translate="no"``
in the templates, as HTML means it, and is left out; so are the allow-listed names and codes
both languages use (QMR, KPI, Team Leader, ...).
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser

import pytest

from engine.demo import load_demo_cases, load_demo_users

# Words only one of the two languages uses, among those Mutu's pages say.
_ENGLISH_TEXT = """the and with your task tasks case cases of is are not waiting due open claim release search
    filter all start started completed running cancelled history comments evidence upload save sign
    page next previous back new date process processes roles role held queue until ended notifications
    settings nobody anyone give mark read off daily immediately approved returned version versions
    draft drafts edit site sites service services severity agent code found reported none yes no"""
ENGLISH = set(_ENGLISH_TEXT.split())
_INDONESIAN_TEXT = """dan yang untuk dengan tidak tugas kasus saya anda belum sudah tenggat menunggu lokasi layanan
    ketidaksesuaian temuan agen selesai dibatalkan berjalan riwayat komentar bukti unggah simpan keluar
    halaman cari semua mulai dimulai pemberitahuan peran antrean dipegang sampai berlaku versi draf
    ubah tingkat keparahan ya oleh belum kode ditemukan dilaporkan"""
INDONESIAN = set(_INDONESIAN_TEXT.split())
# Names and terms both languages use as they are.
ALLOWED = {
    "qmr",
    "kpi",
    "sop",
    "pks",
    "po",
    "id",
    "en",
    "mutu",
    "telkom",
    "indihome",
    "tapping",
    "propper",
    "mystery",
    "shopping",
    "quality",
    "control",
    "team",
    "leader",
    "bpmn",
    "dmn",
    "csv",
    "pdf",
    "zip",
    "json",
    "test",
}
SKIP_PATHS = ("/static/", "/files/", "/api/", "/logout", "/notifications/")
USERS = ("qmr", "qc", "teamlead", "agent", "director", "client", "procurement", "ops", "admin")
MAX_PAGES = 60


class Visible(HTMLParser):
    """The text a reader sees (and titles, labels, placeholders), minus what people typed."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "source", "area", "col", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.links: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, skipping)

    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        skip = self.skipping() or tag in ("script", "style", "svg") or a.get("translate") == "no"
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if not skip:
            for key in ("title", "placeholder", "aria-label", "alt"):
                if a.get(key):
                    self.words.append(a[key] or "")
            if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
                self.words.append(a["value"] or "")
        if tag not in self.VOID:
            self.stack.append((tag, skip))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, _skip = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.skipping():
            self.words.append(data)


def foreign_words(html: str, language: str) -> tuple[list[str], list[str]]:
    parser = Visible()
    parser.feed(html)
    text = " ".join(parser.words).lower()
    tokens = re.findall(r"[a-zà-ÿ]+", text)
    other = INDONESIAN if language == "en" else ENGLISH
    found = sorted({t for t in tokens if t in other and t not in ALLOWED})
    return found, parser.links


@pytest.fixture
def demo(web):  # type: ignore[no-untyped-def]
    with web.session() as s:
        load_demo_users(s, web.clock)
        load_demo_cases(s, web.runtime.engine)
    return web


@pytest.mark.parametrize("committed_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("language", ["id", "en"])
def test_no_page_mixes_the_two_languages(demo, language):  # type: ignore[no-untyped-def]
    problems: list[str] = []
    for username in USERS:
        browser = demo.client(username)
        browser.post("/language", {"lang": language, "next": "/inbox"})
        seen: set[str] = set()
        queue = deque(
            [
                "/inbox",
                "/inbox?scope=roles",
                "/inbox?scope=oversee",
                "/cases",
                "/start",
                "/processes",
                "/notifications",
                "/notifications/settings",
                "/confidentiality",
                "/registers",
                "/reports",
                "/evidence-packs",
                *(
                    f"/registers/{name}"
                    for name in ("suppliers", "requirements", "communications", "preservation", "tools")
                ),
                "/agents/10001",
            ]
        )
        while queue and len(seen) < MAX_PAGES:
            path = queue.popleft()
            if path in seen:
                continue
            seen.add(path)
            response = browser.get(path)
            if response.status_code in (301, 302, 303) or not response.mimetype.startswith("text/html"):
                continue
            found, links = foreign_words(response.get_data(as_text=True), language)
            if found:
                problems.append(f"{username} {path} [{response.status_code}]: {', '.join(found)}")
            for link in links:
                link = link.split("#", 1)[0]
                if (
                    link.startswith("/")
                    and not link.startswith("//")
                    and not link.startswith(SKIP_PATHS)
                    and link not in seen
                ):
                    queue.append(link)
    assert problems == [], "\n".join(problems[:80])
