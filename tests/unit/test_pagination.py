import pytest

from shop.pagination import Page, PageError, check_page, page_count, parse_page


@pytest.mark.parametrize(("raw", "page"), [(None, 1), ("", 1), ("1", 1), ("42", 42)])
def test_parse_page_accepts_whole_numbers(raw: str | None, page: int) -> None:
    assert parse_page(raw) == page


@pytest.mark.parametrize(
    "raw", ["0", "-1", "abc", "1.5", "100001", "99999999999999999999", "\uff11"]
)
def test_parse_page_rejects_other_input_with_400(raw: str) -> None:
    with pytest.raises(PageError) as info:
        parse_page(raw)
    assert info.value.status == 400
    assert str(info.value) == "The page number must be a whole number from 1 to 100,000."


def test_parse_page_accepts_the_largest_page_number() -> None:
    assert parse_page("100000") == 100_000


def test_page_past_the_end_is_404_and_empty_list_has_one_page() -> None:
    assert page_count(0, 24) == 1
    assert page_count(49, 24) == 3
    check_page(1, 0, 24)
    with pytest.raises(PageError) as info:
        check_page(4, 49, 24)
    assert info.value.status == 404
    assert str(info.value) == "There is no page 4; this list has 3 pages."
    with pytest.raises(PageError) as info:
        check_page(2, 5, 24)
    assert str(info.value) == "There is no page 2; this list has only one page."


def test_page_navigation_flags() -> None:
    page = Page(items=[1, 2], total=50, page=2, size=24)
    assert (page.pages, page.has_prev, page.has_next) == (3, True, True)
