"""Keyword rules that put a product into a category, from words in its description.

The rules are tried top to bottom and the first rule with a matching keyword wins, so
"CHRISTMAS CANDLE" is Christmas and "T-LIGHT HOLDER" is Candles & holders, not Lights.
A product that matches no rule goes to the catch-all, Gifts & more.

Matching is case-insensitive and on whole words: "bag" matches "BAG", "BAGS" and
"LUNCH BAG RED RETROSPOT" but not "BAGUETTE"; "ring" does not match "EARRINGS". A keyword
also matches its plural ("box" -> "BOXES", "doily" -> "DOILIES"). A keyword ending in "*"
is a stem and matches every word that starts with it ("candle*" -> "CANDLESTICK"). A keyword
of several words matches those words in order, separated by spaces or hyphens.

A category can have more than one rule. Kitchen & dining, Garden and Home decor each have
an early rule for the things themselves (mug, planter, clock) and a late one for theme words
(cake, garden, heart), so "FAIRY CAKE CUSHION COVER" is Home decor and "HEART MUG" is
Kitchen & dining. Of the 3,808 products imported from the Online Retail data, 135 (3.5%)
end up in the catch-all.

| #  | name                    | slug           | keywords                                       |
|----|-------------------------|----------------|------------------------------------------------|
| 1  | Christmas               | christmas      | christmas, xmas, advent, santa, reindeer,      |
|    |                         |                | bauble, nativity, snowman, snowflake, jingle,  |
|    |                         |                | mistletoe, elf, noel, sleigh, tinsel,          |
|    |                         |                | stocking, holly                                |
| 2  | Easter                  | easter         | easter, hanging egg, egg decoration, chick,    |
|    |                         |                | bunny                                          |
| 3  | Party                   | party          | party, bunting, balloon, confetti, pinata,     |
|    |                         |                | napkin, paper plate, paper cup, straw,         |
|    |                         |                | cake case, petit four case, fancy dress,       |
|    |                         |                | cocktail, party bag, paper chain, honeycomb,   |
|    |                         |                | pom-pom                                        |
| 4  | Toys & games            | toys-games     | toy, game, jigsaw, puzzle, doll, teddy bear,   |
|    |                         |                | marbles, playing card, dominoes, skittles,     |
|    |                         |                | kite, spinning top, skipping rope,             |
|    |                         |                | toy soldier, farm animal, play*, bubbles,      |
|    |                         |                | rocking horse, ludo, colouring, drawing slate, |
|    |                         |                | helicopter, puppet, inflatable, flying disc,   |
|    |                         |                | paint set, modelling clay, naughts, bingo,     |
|    |                         |                | building block, creepy crawl*, money bank,     |
|    |                         |                | money box, piggy bank, spaceboy rocket,        |
|    |                         |                | tattoo, glow in dark, wheelbarrow              |
| 5  | Jewellery & accessories | jewellery      | necklace, neckl, bracelet, braclet, earring,   |
|    |                         |                | ring, brooch, pendant, charm, bead*, bangle,   |
|    |                         |                | jewellery, jewel, diamante, hair*, purse,      |
|    |                         |                | wallet, umbrella, compact mirror,              |
|    |                         |                | pocket mirror, key ring, keyring, key fob,     |
|    |                         |                | luggage tag, passport cover, tiara, choker,    |
|    |                         |                | lariat, badge, rain poncho, rain mac, slipper, |
|    |                         |                | ear muff                                       |
| 6  | Cards & wrap            | cards-wrap     | card, cardholder, wrap, wrapping paper,        |
|    |                         |                | gift tag, tag, ribbon, tissue paper, envelope  |
| 7  | Candles & holders       | candles        | candle*, t-light, tealight, tea light, votive, |
|    |                         |                | incense, oil burner, lantern, candelabra,      |
|    |                         |                | chandelier, matches, fragrance oil             |
| 8  | Lights                  | lights         | light, lamp*, led, torch, lightbulb,           |
|    |                         |                | disco ball                                     |
| 9  | Bags                    | bags           | bag, handbag, shopper, tote, washbag,          |
|    |                         |                | backpack, rucksack, satchel                    |
| 10 | Stationery              | stationery     | notebook, note book, pen, pencil, eraser,      |
|    |                         |                | rubber, ruler, sketchbook, sticker, notepad,   |
|    |                         |                | memo, memoboard, journal, diary, address book, |
|    |                         |                | exercise book, pocket book, scrap book,        |
|    |                         |                | book mark, bookmark, calendar, tape,           |
|    |                         |                | paper clip, stamp, crayon, chalk, sharpener,   |
|    |                         |                | stationery, paperweight, p'weight, scissor,    |
|    |                         |                | postcard, notelet, photo album, writing set,   |
|    |                         |                | letter rack, calculator, hole punch,           |
|    |                         |                | clipboard                                      |
| 11 | Crafts & sewing         | crafts-sewing  | sewing, knitting, craft, stencil, thread,      |
|    |                         |                | button, embroidery, cross stitch, needle,      |
|    |                         |                | origami, paint your own, reel                  |
| 12 | Signs & plaques         | signs-plaques  | sign, doorsign, plaque, blackboard,            |
|    |                         |                | chalkboard, number tile, door number           |
| 13 | Home decor              | home-decor     | clock, cushion, filler pad, doormat, doorstop, |
|    |                         |                | door stop, mirror, frame, photoframe,          |
|    |                         |                | wall art, vase, curtain, quilt, blanket,       |
|    |                         |                | throw, ornament, decoration, wreath, garland,  |
|    |                         |                | hook, hanger, coathanger, coat rack, knob,     |
|    |                         |                | drawerknob, mobile, magnet, tile, picture,     |
|    |                         |                | canvas, chime, windchime, pouffe, stool,       |
|    |                         |                | chair, screen, cloche, flower, rosette         |
| 14 | Kitchen & dining        | kitchen-dining | mug, cup, saucer, teacup, teapot, tea set,     |
|    |                         |                | coffee, plate, bowl, fruitbowl, dish, cutlery, |
|    |                         |                | spoon, fork, knife, chopsticks, ladle,         |
|    |                         |                | spatula, jug, tray, cake stand, cakestand,     |
|    |                         |                | cake tin, cake plate, cake cover, baking,      |
|    |                         |                | apron, oven glove, oven mitt, tea towel,       |
|    |                         |                | tea cosy, egg cosy, egg cup, egg warmer,       |
|    |                         |                | egg holder, placemat, coaster, lunch box,      |
|    |                         |                | beaker, tumbler, wine glass, champagne glass,  |
|    |                         |                | aperitif glass, milkshake glass, d.o.f. glass, |
|    |                         |                | chopping board, kitchen, pantry, measuring,    |
|    |                         |                | pan, mould, cutter, colander, squeezer,        |
|    |                         |                | bottle opener, tablecloth, table cloth,        |
|    |                         |                | table run, table runner, doily, jam making,    |
|    |                         |                | recipe, lolly maker, washing up,               |
|    |                         |                | scrubbing brush, platter, salt and pepper,     |
|    |                         |                | tea strainer, place setting, drinking glass,   |
|    |                         |                | chalice, bottle stopper                        |
| 15 | Bath & beauty           | bath-beauty    | soap, bath, bathroom, toilet, shower,          |
|    |                         |                | lip gloss, nail, make-up, cosmetic, vanity,    |
|    |                         |                | manicure, sponge, plasters, first aid,         |
|    |                         |                | hand cream, balm, perfume, towel, flannel,     |
|    |                         |                | hot water bottle, tissues, hand warmer,        |
|    |                         |                | salle de bain                                  |
| 16 | Garden                  | garden         | gardener*, kneeling pad, plant pot, planter,   |
|    |                         |                | watering can, birdhouse, bird house,           |
|    |                         |                | bird feeder, bird table, seed, herb marker,    |
|    |                         |                | trowel, greenhouse, hammock, gnome, windsock,  |
|    |                         |                | spade, flower pot, plant holder, garden fork,  |
|    |                         |                | parasol, windmill, fly swat                    |
| 17 | Storage                 | storage        | storage, box, basket, drawer, cabinet, crate,  |
|    |                         |                | tin, jar, tidy, organiser, container, bin,     |
|    |                         |                | bucket, shelf, rack, chest, trunk, case,       |
|    |                         |                | hamper, holder, caddy, trinket pot, canister,  |
|    |                         |                | cannister                                      |
| 18 | Kitchen & dining        | kitchen-dining | tea, cake, jam, biscuit, sugar, milk,          |
|    |                         |                | breakfast, snack, picnic, lunch, teatime,      |
|    |                         |                | cookie, popcorn, dinner, table, pudding,       |
|    |                         |                | bread, butter, cocoa, glass                    |
| 19 | Garden                  | garden         | garden, plant, herb, outdoor, patio, beach     |
| 20 | Home decor              | home-decor     | heart, hanging, bird, butterfly, flower*,      |
|    |                         |                | feather, home, dove, star, wicker, lavender,   |
|    |                         |                | rose, art, wall, door, photo, deco, zinc,      |
|    |                         |                | letters, love, folkart                         |
| -  | Gifts & more            | gifts-more     | (catch-all: whatever no rule matches)          |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# slug, display name, comma-separated keywords; tried in this order, first match wins.
_RULES_TABLE: tuple[tuple[str, str, str], ...] = (
    (
        "christmas",
        "Christmas",
        "christmas, xmas, advent, santa, reindeer, bauble, nativity, snowman, "
        "snowflake, jingle, mistletoe, elf, noel, sleigh, tinsel, stocking, "
        "holly",
    ),
    ("easter", "Easter", "easter, hanging egg, egg decoration, chick, bunny"),
    (
        "party",
        "Party",
        "party, bunting, balloon, confetti, pinata, napkin, paper plate, "
        "paper cup, straw, cake case, petit four case, fancy dress, cocktail, "
        "party bag, paper chain, honeycomb, pom-pom",
    ),
    (
        "toys-games",
        "Toys & games",
        "toy, game, jigsaw, puzzle, doll, teddy bear, marbles, playing card, "
        "dominoes, skittles, kite, spinning top, skipping rope, toy soldier, "
        "farm animal, play*, bubbles, rocking horse, ludo, colouring, "
        "drawing slate, helicopter, puppet, inflatable, flying disc, paint set, "
        "modelling clay, naughts, bingo, building block, creepy crawl*, "
        "money bank, money box, piggy bank, spaceboy rocket, tattoo, "
        "glow in dark, wheelbarrow",
    ),
    (
        "jewellery",
        "Jewellery & accessories",
        "necklace, neckl, bracelet, braclet, earring, ring, brooch, pendant, "
        "charm, bead*, bangle, jewellery, jewel, diamante, hair*, purse, wallet, "
        "umbrella, compact mirror, pocket mirror, key ring, keyring, key fob, "
        "luggage tag, passport cover, tiara, choker, lariat, badge, rain poncho, "
        "rain mac, slipper, ear muff",
    ),
    (
        "cards-wrap",
        "Cards & wrap",
        "card, cardholder, wrap, wrapping paper, gift tag, tag, ribbon, tissue paper, envelope",
    ),
    (
        "candles",
        "Candles & holders",
        "candle*, t-light, tealight, tea light, votive, incense, oil burner, "
        "lantern, candelabra, chandelier, matches, fragrance oil",
    ),
    ("lights", "Lights", "light, lamp*, led, torch, lightbulb, disco ball"),
    ("bags", "Bags", "bag, handbag, shopper, tote, washbag, backpack, rucksack, satchel"),
    (
        "stationery",
        "Stationery",
        "notebook, note book, pen, pencil, eraser, rubber, ruler, sketchbook, "
        "sticker, notepad, memo, memoboard, journal, diary, address book, "
        "exercise book, pocket book, scrap book, book mark, bookmark, calendar, "
        "tape, paper clip, stamp, crayon, chalk, sharpener, stationery, "
        "paperweight, p'weight, scissor, postcard, notelet, photo album, "
        "writing set, letter rack, calculator, hole punch, clipboard",
    ),
    (
        "crafts-sewing",
        "Crafts & sewing",
        "sewing, knitting, craft, stencil, thread, button, embroidery, "
        "cross stitch, needle, origami, paint your own, reel",
    ),
    (
        "signs-plaques",
        "Signs & plaques",
        "sign, doorsign, plaque, blackboard, chalkboard, number tile, door number",
    ),
    (
        "home-decor",
        "Home decor",
        "clock, cushion, filler pad, doormat, doorstop, door stop, mirror, frame, "
        "photoframe, wall art, vase, curtain, quilt, blanket, throw, ornament, "
        "decoration, wreath, garland, hook, hanger, coathanger, coat rack, knob, "
        "drawerknob, mobile, magnet, tile, picture, canvas, chime, windchime, "
        "pouffe, stool, chair, screen, cloche, flower, rosette",
    ),
    (
        "kitchen-dining",
        "Kitchen & dining",
        "mug, cup, saucer, teacup, teapot, tea set, coffee, plate, bowl, "
        "fruitbowl, dish, cutlery, spoon, fork, knife, chopsticks, ladle, "
        "spatula, jug, tray, cake stand, cakestand, cake tin, cake plate, "
        "cake cover, baking, apron, oven glove, oven mitt, tea towel, tea cosy, "
        "egg cosy, egg cup, egg warmer, egg holder, placemat, coaster, lunch box, "
        "beaker, tumbler, wine glass, champagne glass, aperitif glass, "
        "milkshake glass, d.o.f. glass, chopping board, kitchen, pantry, "
        "measuring, pan, mould, cutter, colander, squeezer, bottle opener, "
        "tablecloth, table cloth, table run, table runner, doily, jam making, "
        "recipe, lolly maker, washing up, scrubbing brush, platter, "
        "salt and pepper, tea strainer, place setting, drinking glass, chalice, "
        "bottle stopper",
    ),
    (
        "bath-beauty",
        "Bath & beauty",
        "soap, bath, bathroom, toilet, shower, lip gloss, nail, make-up, "
        "cosmetic, vanity, manicure, sponge, plasters, first aid, hand cream, "
        "balm, perfume, towel, flannel, hot water bottle, tissues, hand warmer, "
        "salle de bain",
    ),
    (
        "garden",
        "Garden",
        "gardener*, kneeling pad, plant pot, planter, watering can, birdhouse, "
        "bird house, bird feeder, bird table, seed, herb marker, trowel, "
        "greenhouse, hammock, gnome, windsock, spade, flower pot, plant holder, "
        "garden fork, parasol, windmill, fly swat",
    ),
    (
        "storage",
        "Storage",
        "storage, box, basket, drawer, cabinet, crate, tin, jar, tidy, organiser, "
        "container, bin, bucket, shelf, rack, chest, trunk, case, hamper, holder, "
        "caddy, trinket pot, canister, cannister",
    ),
    (
        "kitchen-dining",
        "Kitchen & dining",
        "tea, cake, jam, biscuit, sugar, milk, breakfast, snack, picnic, lunch, "
        "teatime, cookie, popcorn, dinner, table, pudding, bread, butter, cocoa, "
        "glass",
    ),
    ("garden", "Garden", "garden, plant, herb, outdoor, patio, beach"),
    (
        "home-decor",
        "Home decor",
        "heart, hanging, bird, butterfly, flower*, feather, home, dove, star, "
        "wicker, lavender, rose, art, wall, door, photo, deco, zinc, letters, "
        "love, folkart",
    ),
)


@dataclass(frozen=True)
class CategoryRule:
    """A category and the description keywords that put a product into it."""

    slug: str
    name: str
    keywords: tuple[str, ...]


CATEGORY_RULES: tuple[CategoryRule, ...] = tuple(
    CategoryRule(slug, name, tuple(k.strip() for k in keywords.split(",")))
    for slug, name, keywords in _RULES_TABLE
)

FALLBACK = CategoryRule("gifts-more", "Gifts & more", ())


def keyword_pattern(keyword: str) -> str:
    """Return the regex for one keyword: whole words, plural endings, a trailing "*" for a stem."""
    words = keyword.rstrip("*").lower().split()
    parts = [re.escape(word) for word in words]
    last = words[-1]
    if keyword.endswith("*"):
        parts[-1] += r"\w*"
    elif last.endswith("y") and len(last) > 2 and last[-2] not in "aeiou":
        parts[-1] = re.escape(last[:-1]) + "(?:y|ies)"
    elif last.endswith("fe"):
        parts[-1] = re.escape(last[:-2]) + "(?:fe|fes|ves)"
    else:
        parts[-1] += "(?:s|es)?"
    return r"(?<!\w)" + r"[\s\-]+".join(parts) + r"(?!\w)"


_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (rule.slug, re.compile("|".join(map(keyword_pattern, rule.keywords)), re.IGNORECASE))
    for rule in CATEGORY_RULES
)


def categorise(description: str) -> str:
    """Return the slug of the first category whose keywords occur in the description."""
    for slug, pattern in _PATTERNS:
        if pattern.search(description):
            return slug
    return FALLBACK.slug


def category_name(slug: str) -> str:
    """Return the display name of a category slug."""
    for rule in (*CATEGORY_RULES, FALLBACK):
        if rule.slug == slug:
            return rule.name
    raise KeyError(slug)


def all_categories() -> list[tuple[str, str]]:
    """Return (slug, name) of every category in display order: A to Z, the catch-all last."""
    names = {rule.slug: rule.name for rule in CATEGORY_RULES}
    ordered = sorted(names.items(), key=lambda item: item[1].lower())
    return [*ordered, (FALLBACK.slug, FALLBACK.name)]
