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


def test_results_can_be_sorted_and_pages_keep_the_order(
    client: FlaskClient, session: Session
) -> None:
    cat = factories.category(session)
    for sku, name, price in (("A", "Brass Lantern", 900), ("B", "Anchor Lantern", 300)):
        factories.product(session, cat, sku=sku, name=name, price=price)
    factories.product(session, cat, sku="C", name="Copper Lantern", price=600)
    session.commit()
    html = client.get("/search?q=lantern").get_data(as_text=True)
    assert '<option value="relevance" selected>Best match</option>' in html
    assert '<input type="hidden" name="q" value="lantern">' in html

    client.application.config["PAGE_SIZE"] = 2
    page = client.get("/search?q=lantern&sort=price_desc").get_data(as_text=True)
    assert '<option value="price_desc" selected>Price: high to low</option>' in page
    assert page.index("Brass Lantern") < page.index("Copper Lantern")
    assert "Anchor Lantern" not in page
    assert 'href="/search?q=lantern&amp;sort=price_desc&amp;page=2"' in page
    second = client.get("/search?q=lantern&sort=price_desc&page=2").get_data(as_text=True)
    assert "Anchor Lantern" in second and "Brass Lantern" not in second
    # Best match is the default, so its page links carry no sort.
    assert (
        "sort="
        not in client.get("/search?q=lantern").get_data(as_text=True).split('class="pagination"')[1]
    )


def test_an_unknown_sort_is_best_match(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    response = client.get("/search?q=lantern&sort=%3Cscript%3E")
    assert response.status_code == 200
    assert '<option value="relevance" selected>' in response.get_data(as_text=True)
