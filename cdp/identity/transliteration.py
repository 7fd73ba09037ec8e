"""The seed that lets the matcher compare a name typed in Chinese characters with its pinyin.

A Chinese-named customer is '王伟' in one system and 'Wei Wang' in another. The dbt model
``int_identity_records_standardised`` replaces every character of a Han-script name key by its
toneless pinyin from ``dbt_project/seeds/name_transliterations.csv``, so both become 'wangwei'-style
keys that block, compare and conflict like any Latin name.

The seed is built here from pypinyin (MIT; the pinyin-data dictionary), for the 6,763 characters of
GB2312 (simplified Chinese; every character in common use in mainland names): each character's most
common reading, and beside it its reading as a family name where that differs (曾 Zeng, not Ceng).
pypinyin is a development dependency: the seed is committed, and ``tests/test_transliteration.py``
checks it is what this module builds. Rebuild with ``python -m cdp.identity.transliteration``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

SEED = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "name_transliterations.csv"

#: Family names whose reading differs from the character's most common one (standard readings of
#: the surnames in the Hundred Family Surnames that pypinyin reads otherwise out of context).
SURNAME_READINGS = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "查": "zha",
    "区": "ou",
    "朴": "piao",
    "乐": "yue",
    "尉": "yu",
    "覃": "qin",
    "缪": "miao",
    "翟": "zhai",
    "盖": "ge",
    "种": "chong",
    "秘": "bi",
}


def gb2312_characters() -> list[str]:
    """The 6,763 hanzi of GB2312 (rows 16-87), in code order."""
    chars = []
    for row in range(0xB0, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                char = bytes([row, cell]).decode("gb2312")
            except UnicodeDecodeError:
                continue  # the five unassigned cells at the end of row 55
            chars.append(char)
    return chars


def rows() -> list[tuple[str, str, str]]:
    """(character, pinyin, pinyin as a family name) per character, toneless and lower case."""
    from pypinyin import Style, lazy_pinyin

    out = []
    for char in gb2312_characters():
        # ü as u: a Latin-script record's 'Lü' folds to 'lu' (name_match_key drops accents).
        latin = lazy_pinyin(char, style=Style.NORMAL, v_to_u=True)[0].replace("ü", "u")
        out.append((char, latin, SURNAME_READINGS.get(char, latin)))
    return out


def render(table: list[tuple[str, str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["han", "latin", "surname_latin"])
    writer.writerows(table)
    return buffer.getvalue()


def main() -> None:
    SEED.write_text(render(rows()), encoding="utf-8")
    print(f"wrote {SEED}")


if __name__ == "__main__":
    main()
