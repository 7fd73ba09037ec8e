{#-
    Cleaning macros used by staging. Portable building blocks (trim, lower, translate, substr, case)
    live in the generic macros; engine-specific functions sit behind adapter.dispatch with a
    `default__` implementation written for DuckDB and a `spark__` one beside it (dbt-spark). Regular
    expressions are written once, in the RE2 dialect DuckDB reads; spark_regex() turns a pattern into
    the Java dialect and string-literal escaping Spark reads.
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

{#- Trimmed, lower-cased, full-width folded email; null when empty or not exactly one '@'. Python's twin is
    cdp.identifiers.normalize_email (tests/test_forget_spellings.py runs both over one corpus). 'İ' is
    replaced first: DuckDB lowers it to 'i', Spark (Java) to 'i' + a combining dot. -#}
{% macro normalize_email(expression) -%}
    {%- set folded = "lower(replace(trim(" ~ fold_fullwidth(expression) ~ "), 'İ', 'I'))" -%}
    case
        when {{ regexp_matches(folded, '^[^@[:space:]]+@[^@[:space:]]+$') }}
            then {{ folded }}
    end
{%- endmacro %}

{#- Phones have no macro: ingest lands `<field>_e164` next to every phone field, parsed by libphonenumber
    with the market's region (cdp/identifiers.py, ingest/derive.py), so both engines read one value. -#}

{#-
    Person/place names, second step (call on a column already passed through clean_text): proper-case
    only when written in Latin letters AND typed all upper or all lower case ('JAN DE VRIES' ->
    'Jan De Vries'); mixed case as typed is kept ('McDonald', 'van der Berg'); non-Latin scripts as typed.
    Two steps so that the per-character initcap works on a plain column, not on a long expression.
-#}
{% macro proper_case_name(column) -%}
    case
        when {{ regexp_matches(column, "^[A-Za-zÀ-ÖØ-öø-ɏ'' .-]+$") }}
            and ({{ column }} = upper({{ column }}) or {{ column }} = lower({{ column }}))
            then {{ initcap(column) }}
        else {{ column }}
    end
{%- endmacro %}

{#- Free text -> trimmed, whitespace collapsed, null when empty (addresses, postcodes, cities). -#}
{% macro clean_text(expression) -%}
    nullif({{ regexp_replace_all('trim(' ~ fold_fullwidth(expression) ~ ')', '\\s+', ' ') }}, '')
{%- endmacro %}

{#- Free-text gender -> 'female' | 'male' | 'other' | null (unknown / not given). The words are the var
    gender_vocabulary: the home's market profile (cdp/markets/*.yml: 'vrouw', '男', '女士', ...), passed
    by cdp.warehouse; one rule for every market, the vocabulary is data. -#}
{% macro normalize_gender(expression) -%}
    {%- set vocabulary = var('gender_vocabulary') -%}
    case
        when {{ expression }} is null then null
        {%- for value in ['female', 'male', 'other'] %}
        {%- set words = vocabulary.get(value) or [] %}
        {%- if words %}
        when lower(trim({{ expression }})) in ({% for word in words %}'{{ word | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor %})
            then '{{ value }}'
        {%- endif %}
        {%- endfor %}
    end
{%- endmacro %}

{#- Trimmed; empty -> null (ids and codes that must keep their case). -#}
{% macro nullif_blank(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}

{#- A UTC timestamp (naive, as every `_at` column) as wall-clock time in `timezone` (an IANA name, e.g.
    var market_timezone): what a store's clock showed. DuckDB: the UTC instant, then its local time
    (ICU); Spark: from_utc_timestamp. -#}
{% macro local_timestamp(expression, timezone) -%}
    {{ return(adapter.dispatch('local_timestamp', 'cdp')(expression, timezone)) }}
{%- endmacro %}

{% macro default__local_timestamp(expression, timezone) -%}
    timezone('{{ timezone }}', timezone('UTC', {{ expression }}))
{%- endmacro %}
{% macro spark__local_timestamp(expression, timezone) -%}
    from_utc_timestamp({{ expression }}, '{{ timezone }}')
{%- endmacro %}
