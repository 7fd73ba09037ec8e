"""The name_transliterations seed is what cdp.identity.transliteration builds from pypinyin."""

from __future__ import annotations

from cdp.identity import transliteration


def test_seed_is_what_the_builder_writes() -> None:
    committed = transliteration.SEED.read_text(encoding="utf-8")
    assert committed == transliteration.render(transliteration.rows())


def test_gb2312_and_readings() -> None:
    table = {han: (latin, surname) for han, latin, surname in transliteration.rows()}
    assert len(table) == 6763
    assert table["王"] == ("wang", "wang")
    assert table["伟"][0] == "wei"
    assert table["曾"] == ("ceng", "zeng")  # a family name reads otherwise
    assert table["吕"][0] == "lu"  # ü as u, as a Latin record's 'Lü' folds
