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

{#- Trimmed, lower-cased, full-width folded email; null when empty or not exactly one '@'. -#}
{% macro normalize_email(expression) -%}
    {%- set folded = 'lower(trim(' ~ fold_fullwidth(expression) ~ '))' -%}
    case
        when {{ regexp_matches(folded, '^[^@[:space:]]+@[^@[:space:]]+$') }}
            then {{ folded }}
    end
{%- endmacro %}

{#-
    Phone number to E.164 ('+' and 8..15 digits), base country NL:
      '+31 (0)6 ...' -> drop the '(0)' trunk prefix; keep digits (and a leading '+');
      '+...' kept; '00...' -> '+...'; national '0...' -> '+<cc>...';
      9 digits starting with 6 (NL mobile without the 0) -> '+<cc>6...';
      '<cc>' + 9 digits (country code without '+') -> '+<cc>...'.
    Anything else (too short/long, unknown) -> null. <cc> = var default_phone_country_code.
-#}
{% macro normalize_phone(expression) -%}
    {%- set cc = var('default_phone_country_code', '31') | string -%}
    {%- set folded = 'trim(' ~ fold_fullwidth(expression) ~ ')' -%}
    {%- set digits = regexp_replace_all(
        regexp_replace_all(folded, '\\(0\\)', ''), '[^0-9]', '') -%}
    {%- set candidate -%}
        case
            when {{ folded }} like '+%' then concat('+', {{ digits }})
            when {{ digits }} like '00%' then concat('+', substr({{ digits }}, 3))
            when {{ digits }} like '0%' then concat('+{{ cc }}', substr({{ digits }}, 2))
            when length({{ digits }}) = 9 and {{ digits }} like '6%' then concat('+{{ cc }}', {{ digits }})
            when length({{ digits }}) = {{ cc | length + 9 }} and {{ digits }} like '{{ cc }}%'
                then concat('+', {{ digits }})
        end
    {%- endset -%}
    case
        when {{ regexp_matches(candidate, '^\\+[1-9][0-9]{7,14}$') }} then {{ candidate }}
    end
{%- endmacro %}

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

{#- Free-text gender -> 'female' | 'male' | 'other' | null (unknown / not given). -#}
{% macro normalize_gender(expression) -%}
    case
        when lower(trim({{ expression }})) in ('f', 'female', 'v', 'vrouw', 'w', 'woman', 'mrs', 'ms', 'mevrouw')
            then 'female'
        when lower(trim({{ expression }})) in ('m', 'male', 'man', 'mr', 'dhr', 'meneer', 'heer')
            then 'male'
        when lower(trim({{ expression }})) in ('x', 'o', 'other', 'non-binary', 'nonbinary', 'non binary', 'divers', 'd')
            then 'other'
    end
{%- endmacro %}

{#- Trimmed; empty -> null (ids and codes that must keep their case). -#}
{% macro nullif_blank(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}
