{#-
    Cleaning macros used by staging. Portable building blocks (trim, lower, translate, substr, case)
    live in the generic macros; engine-specific functions sit behind adapter.dispatch with a
    `default__` implementation written for DuckDB and a `spark__` one beside it (macros/cross_engine/). Regular
    expressions are written once, in the RE2 dialect DuckDB reads; spark_regex() turns a pattern into
    the Java dialect and string-literal escaping Spark reads.
-#}

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
