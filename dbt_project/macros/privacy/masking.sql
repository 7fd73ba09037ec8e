{#-
    Masking and hashing of direct identifiers for the shared marts (plain values live only in the
    `restricted` schema). Portable string functions where they exist; the hash (sha256_hex)
    sits behind adapter.dispatch in macros/cross_engine/text.sql.
-#}

{#- 'jane.doe@example.com' -> 'j***@example.com': first character, the domain kept; text without an
    '@' is no address: '***'. cdp.identifiers.mask_email is the same rule (tests/test_masking.py). -#}
{% macro mask_email(expression) -%}
    case
        when {{ expression }} is null then null
        when {{ dbt.position("'@'", expression) }} = 0 then '***'
        else substring({{ expression }}, 1, 1) || '***@' || {{ dbt.split_part(expression, "'@'", 2) }}
    end
{%- endmacro %}

{#- '+31612345678' -> '+31******78': '+' and the first two digits (the country code for most of
    Europe), a fixed run of six '*' (the length is not revealed) and the last two digits. -#}
{% macro mask_phone(expression) -%}
    case
        when {{ expression }} is not null
            then substring({{ expression }}, 1, 3) || '******' || {{ dbt.right(expression, 2) }}
    end
{%- endmacro %}
