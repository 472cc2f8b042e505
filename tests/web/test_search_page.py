"""Search page: ranking, counts, the no-results page and very long queries."""

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories


def test_search_ranks_and_counts(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    html = client.get("/search?q=candles").get_data(as_text=True)
    assert "1 result for" in html or "2 results for" in html
    assert "Jumbo Bag Red Retrospot" in html  # matches its description


def test_search_for_a_name_word(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    html = client.get("/search?q=lantern").get_data(as_text=True)
    assert "1 result for “lantern”" in html
    assert "White Metal Lantern" in html


def test_no_results_page_helps(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    response = client.get("/search?q=zeppelin")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No products match “zeppelin”" in html
    assert "Check the spelling" in html
    assert 'href="/c/bags"' in html


def test_ten_thousand_character_query(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    response = client.get("/search", query_string={"q": "lantern " * 1250})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "first 200 characters" in html
    assert "White Metal Lantern" in html


def test_fts_syntax_in_queries_is_harmless(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    for query in ['"', "bag*", "NEAR(", "a OR", "-", "'; DROP TABLE products; --", "bag:*&|!"]:
        response = client.get("/search", query_string={"q": query})
        assert response.status_code == 200, query


def test_empty_search_invites_a_query(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    html = client.get("/search?q=").get_data(as_text=True)
    assert "Type a word or two" in html


def test_search_page_number_out_of_range(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    assert client.get("/search?q=bag&page=5").status_code == 404
    assert client.get("/search?q=bag&page=x").status_code == 400


def test_search_for_an_item_code(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    html = client.get("/search?q=85123a").get_data(as_text=True)
    assert "1 result for “85123a”" in html
    assert "White Hanging Heart T-Light Holder" in html
    html = client.get("/search?q=8509").get_data(as_text=True)
    assert "1 result for “8509”" in html
    assert "Jumbo Bag Red Retrospot" in html
