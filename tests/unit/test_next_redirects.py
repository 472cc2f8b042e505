import pytest

from shop.accounts.redirects import MAX_NEXT_LENGTH, local_path


@pytest.mark.parametrize(
    "target",
    ["/account", "/products/12?tab=reviews#top", "/search?q=red%20heart", "/cart"],
)
def test_paths_on_this_site_are_followed(target: str) -> None:
    assert local_path(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "account",
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example/phish",
        "/\n/evil.example",
        "/\r/evil.example",
        "/ /evil.example",
        "/\x00",
        "/\x7f",
        "/" + "a" * MAX_NEXT_LENGTH,
    ],
)
def test_anything_that_could_leave_the_site_is_refused(target: str | None) -> None:
    assert local_path(target) is None
