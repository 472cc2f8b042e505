from xml.etree import ElementTree

from shop.catalog.images import product_svg


def test_svg_is_valid_xml_and_labelled_with_the_name() -> None:
    svg = product_svg('Heart "Love" <Box> & Co', "candles", "85123A")
    root = ElementTree.fromstring(svg)
    assert root.get("aria-label") == 'Heart "Love" <Box> & Co'
    assert root.get("role") == "img"


def test_svg_is_stable_and_differs_by_product() -> None:
    a = product_svg("Jumbo Bag", "bags", "85099B")
    assert a == product_svg("Jumbo Bag", "bags", "85099B")
    assert a != product_svg("Jumbo Bag", "bags", "85099C")
    assert product_svg("Mystery", None, "X1").startswith("<svg")
