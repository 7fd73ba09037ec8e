{#-
    Engine twins for text: accent and full-width folding, regular expressions (written once in RE2,
    spark_regex() translates), initcap, edit distance and SHA-256. `default__` is DuckDB, `spark__` beside it.
    Every macro whose SQL differs between engines lives in macros/cross_engine/ (dispatch twins).
-#}

{#- Full-width ASCII variants U+FF01..U+FF5E -> U+0021..U+007E, ideographic space U+3000 -> space. -#}
{% macro fold_fullwidth(expression) -%}
    {{ return(adapter.dispatch('fold_fullwidth', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__fold_fullwidth(expression) -%}
    {#- translate() with a long map is slow in DuckDB (~3 us/row): skip it for pure-ASCII strings
        (byte length = character length), which is nearly every row. -#}
    case
        when strlen({{ expression }}) = length({{ expression }}) then {{ expression }}
        else translate({{ expression }}, '！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～　', '!"#$%&''()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~ ')
    end
{%- endmacro %}

{% macro spark__fold_fullwidth(expression) -%}
    {#- Same map; octet_length() for strlen() and the backslash doubled (Spark literals escape it). -#}
    case
        when octet_length({{ expression }}) = length({{ expression }}) then {{ expression }}
        else translate({{ expression }}, '！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～　', '!"#$%&''()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~ ')
    end
{%- endmacro %}

{#- An RE2 pattern (as DuckDB reads it) in Java's dialect, escaped for a Spark string literal: POSIX
    [:space:] / [:digit:] classes become \s / \d (same characters), backslashes are doubled. -#}
{% macro spark_regex(pattern) -%}
    {{- pattern | replace('\\', '\\\\') | replace('[:space:]', '\\\\s') | replace('[:digit:]', '\\\\d') -}}
{%- endmacro %}

{#- Replace every match of a regular expression. -#}
{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'cdp')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ spark_regex(pattern) }}', '{{ replacement }}')
{%- endmacro %}

{#- Does the string match a regular expression (search, not full match)? -#}
{% macro regexp_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_matches', 'cdp')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regexp_matches(expression, pattern) -%}
    ({{ expression }} rlike '{{ spark_regex(pattern) }}')
{%- endmacro %}

{#- Upper-case the first letter of every word (after start, space, hyphen, apostrophe), lower the rest. -#}
{% macro initcap(expression) -%}
    {{ return(adapter.dispatch('initcap', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__initcap(expression) -%}
    array_to_string(
        list_transform(
            range(1, length({{ expression }}) + 1),
            lambda i: case
                when i = 1 or substr({{ expression }}, i - 1, 1) in (' ', '-', '''')
                    then upper(substr({{ expression }}, i, 1))
                else lower(substr({{ expression }}, i, 1))
            end
        ),
        ''
    )
{%- endmacro %}

{% macro spark__initcap(expression) -%}
    {#- Spark's initcap() splits on spaces only. sequence(1, 0) counts down, so '' is its own case. -#}
    case
        when {{ expression }} is null or {{ expression }} = '' then {{ expression }}
        else concat_ws('', transform(
            sequence(1, length({{ expression }})),
            i -> case
                when i = 1 or substr({{ expression }}, i - 1, 1) in (' ', '-', '''')
                    then upper(substr({{ expression }}, i, 1))
                else lower(substr({{ expression }}, i, 1))
            end
        ))
    end
{%- endmacro %}

{#- 'Éloïse' -> 'Eloise'. -#}
{% macro fold_accents(expression) -%}
    {{ return(adapter.dispatch('fold_accents', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__fold_accents(expression) -%}
    strip_accents({{ expression }})
{%- endmacro %}

{% macro spark__fold_accents(expression) -%}
    {#- Spark has no Unicode normalisation in SQL: each precomposed Latin, Greek and Cyrillic letter
        whose canonical decomposition is one base letter plus marks (U+00C0-U+024F, U+0370-U+04FF,
        U+1E00-U+1EFF; generated with Python's unicodedata, checked against DuckDB's strip_accents),
        then any stand-alone combining mark dropped, as strip_accents does. -#}
    regexp_replace(
        translate(
            {{ expression }},
            'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǢǣǦǧǨǩǪǫǬǭǮǯǰǴǵǸǹǺǻǼǽǾǿȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẛẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹʹ;΅Ά·ΈΉΊΌΎΏΐΪΫάέήίΰϊϋόύώϓϔЀЁЃЇЌЍЎЙйѐёѓїќѝўѶѷӁӂӐӑӒӓӖӗӚӛӜӝӞӟӢӣӤӥӦӧӪӫӬӭӮӯӰӱӲӳӴӵӸӹ',
            'AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuUuAaAaÆæGgKkOoOoƷʒjGgNnAaÆæØøAaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAaEeOoOoOoOoYyAaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLlLlLlLlMmMmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVvWwWwWwWwWwXxXxYyZzZzZzhtwyſAaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEeEeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYyʹ;¨Α·ΕΗΙΟΥΩιΙΥαεηιυιυουωϒϒЕЕГІКИУИиеегікиуѴѵЖжАаАаЕеӘәЖжЗзИиИиОоӨөЭэУуУуУуЧчЫы'
        ),
        '\\p{M}', ''
    )
{%- endmacro %}

{#- Levenshtein distance of two strings, counted in UTF-8 bytes on every engine: DuckDB's
    levenshtein() counts bytes, Spark's counts characters; Spark reads each byte as one ISO-8859-1
    character first. (Bytes are also the better unit here: two different one-character CJK surnames
    are 3 edits apart, "differs", not 1, "close".) -#}
{% macro edit_distance(left, right) -%}
    {{ return(adapter.dispatch('edit_distance', 'cdp')(left, right)) }}
{%- endmacro %}

{% macro default__edit_distance(left, right) -%}
    levenshtein({{ left }}, {{ right }})
{%- endmacro %}

{% macro spark__edit_distance(left, right) -%}
    levenshtein(
        decode(encode({{ left }}, 'UTF-8'), 'ISO-8859-1'), decode(encode({{ right }}, 'UTF-8'), 'ISO-8859-1')
    )
{%- endmacro %}

{#- SHA-256 of a string as 64 lower-case hex digits (null stays null). -#}
{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{% macro spark__sha256_hex(expression) -%}
    sha2({{ expression }}, 256)
{%- endmacro %}

{#- A stable number in [0, 1) from a string: the first 32 bits of its SHA-256 over 2^32. Both engines
    compute the same double (a 32-bit integer over a power of two is exact), so a control group drawn
    with it holds the same customers on either engine. -#}
{% macro unit_hash(expression) -%}
    {{ return(adapter.dispatch('unit_hash', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__unit_hash(expression) -%}
    (cast(cast('0x' || substr(sha256({{ expression }}), 1, 8) as ubigint) as double) / cast(4294967296 as double))
{%- endmacro %}

{% macro spark__unit_hash(expression) -%}
    (cast(conv(substr(sha2({{ expression }}, 256), 1, 8), 16, 10) as double) / cast(4294967296 as double))
{%- endmacro %}
