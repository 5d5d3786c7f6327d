"""French and English: Koban's words in French, chosen by the browser or by the user."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from server import model
from tests.test_web_pages import add, basic, page, today

WEB = Path(__file__).resolve().parent.parent / "web"


def test_accept_language_gives_french_with_kobans_words_and_french_dates(client, live, alice):
    add(alice, live, "alice", "Appeler ACME", dt.date(2026, 12, 1))
    html = client.get("/overdue", headers={**basic(), "Accept-Language": "fr-FR,fr;q=0.9"}
                      ).get_data(as_text=True)
    assert '<html lang="fr">' in html
    for words in ("Actions en retard", "Clôturer", "Clôturer et créer", "Semainier"):
        assert words in html, words
    assert "mar. 1 déc. 2026" in html
    english = page(client, "/overdue")
    assert "Overdue actions" in english and "Tue, Dec 1, 2026" in english


def test_the_choice_is_switchable_and_remembered(client):
    response = client.get("/lang/fr?next=/week", headers=basic())
    assert response.status_code == 303 and response.headers["Location"] == "/week"
    html = page(client, "/week")
    assert "Semainier" in html and "Aujourd’hui" in html
    client.get("/lang/en?next=https://elsewhere.example/", headers=basic())
    html = client.get("/week", headers={**basic(), "Accept-Language": "fr"}).get_data(True)
    assert "Week planner" in html  # the user's choice wins over the browser's


def test_every_text_of_the_pages_is_translated_into_french():
    wanted = {message[2] if isinstance(message[2], str) else message[2][0]
              for message in extract_from_dir(
                  str(WEB), method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
                  keywords={"_": None, "gettext": None, "lazy_gettext": None,
                            "ngettext": (1, 2)})}
    with open(WEB / "translations/fr/LC_MESSAGES/messages.po", "rb") as handle:
        catalogue = list(read_po(handle))
    guessed = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not guessed, "check these guesses of pybabel update, then drop #, fuzzy: " + \
        ", ".join(map(str, guessed))
    french = {(m.id if isinstance(m.id, str) else m.id[0]):
              (m.string if isinstance(m.string, str) else all(m.string) and m.string[0])
              for m in catalogue if m.id}
    missing = sorted(text for text in wanted if not french.get(text))
    assert not missing, "run `make messages` and translate: " + ", ".join(missing)


def test_week_marks_today(client):
    html = page(client, "/week")
    assert f'<section class="day today" aria-labelledby="day-{today().isoformat()}" ' \
           'aria-current="date">' in html


# French puts a non-breaking space before : ; ! ? and inside « »; a plain space lets the
# line break before the colon, and none at all is English typography.
BAD_FRENCH_PUNCTUATION = re.compile(
    "(?<![\u00a0\u202f])[:;!?](?=\\s|$)|«(?![\u00a0\u202f])|(?<![\u00a0\u202f])»")


def test_french_texts_have_a_non_breaking_space_before_colons_and_the_like():
    with open(WEB / "translations/fr/LC_MESSAGES/messages.po", "rb") as handle:
        catalogue = list(read_po(handle))
    wrong = [text for m in catalogue if m.id
             for text in ([m.string] if isinstance(m.string, str) else m.string)
             if BAD_FRENCH_PUNCTUATION.search(text)]
    assert not wrong, wrong


def test_labels_the_pages_put_before_a_colon_follow_french_typography(client, live, alice):
    item = add(alice, live, "alice", "Appeler ACME", dt.date(2026, 12, 1),
               links=(("account", "ACME"),))
    alice.close(item.path, outcome="Rappeler lundi")
    french = {**basic(), "Accept-Language": "fr"}
    uri = model.Link.named("account", "ACME").uri
    html = client.get("/records/account/view", query_string={"uri": uri},
                      headers=french).get_data(as_text=True)
    assert "Compte rendu\u00a0:" in html and "Compte rendu:" not in html
    alice.modify(item.path, model.reopen)  # back on the overdue list, with its links
    html = client.get("/overdue", headers=french).get_data(as_text=True)
    assert "Compte\u00a0:" in html and "Compte:" not in html
    assert not BAD_FRENCH_PUNCTUATION.search(re.sub(r"<[^>]+>", " ", html.split("<main")[1]))


def test_the_new_sections_and_messages_follow_french_typography(client, live, alice):
    """No date yet, the week's count of undated actions, and the messages after a close."""
    add(alice, live, "alice", "Appeler Jeanne un jour", None)
    late = add(alice, live, "alice", "Appeler ACME", today() - dt.timedelta(days=1))
    french = {**basic(), "Accept-Language": "fr"}
    html = client.get("/overdue", headers=french).get_data(as_text=True)
    assert "Pas encore de date" in html
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    with client.application.app_context():
        from web.calendar import page_url

        url = page_url(late.path)
    client.post(url + "/close", headers=french, data={"csrf_token": csrf, "back": "/overdue"})
    pages = [client.get("/overdue", headers=french).get_data(as_text=True),
             client.get("/week", headers=french).get_data(as_text=True)]
    assert "L’ouvrir pour annuler" in pages[0] and "planifiez-la" in pages[1]
    for html in pages:
        text = re.sub(r"<[^>]+>", " ", html.split("<main")[1])
        assert not BAD_FRENCH_PUNCTUATION.search(text), BAD_FRENCH_PUNCTUATION.findall(text)
