{#-
    Masking and hashing of direct identifiers for the shared marts (plain values live only in the
    `restricted` schema). Portable string functions where they exist; the hash sits behind
    adapter.dispatch: `default__` (DuckDB) and `spark__`.
-#}

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

{#- 'jane.doe@example.com' -> 'j***@example.com': first character, the domain kept. -#}
{% macro mask_email(expression) -%}
    case
        when {{ expression }} is not null
            then substring({{ expression }}, 1, 1) || '***@' || {{ dbt.split_part(expression, "'@'", 2) }}
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
