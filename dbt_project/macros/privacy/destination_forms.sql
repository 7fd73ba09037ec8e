{#-
    The normalised forms the ad platforms hash (Meta custom audiences, Google Customer Match), for the
    destination models (models/restricted/destinations/). cdp.identifiers.google_email / meta_phone
    are the same rules in Python (cdp forget finds a person in published files with them);
    tests/test_destination_forms.py runs both over one corpus. Hash with sha256_hex.
-#}

{#- Google: trimmed, lower-cased email; for gmail.com / googlemail.com the dots before '@' removed.
    The domain test is a LIKE, not split_part(...) in (...): on a base where no one has an email, DuckDB
    folds split_part over the all-NULL column inside a CASE condition into an untyped NULL and fails
    ("BindBuiltinScalarFunction did not return a BoundFunctionExpression"). Normalised emails have one
    '@', so both spellings select the same addresses. -#}
{% macro google_email(expression) -%}
    {%- set email = 'lower(trim(' ~ expression ~ '))' -%}
    case
        when {{ email }} like '%@gmail.com' or {{ email }} like '%@googlemail.com'
            then replace({{ dbt.split_part(email, "'@'", 1) }}, '.', '') || '@' || {{ dbt.split_part(email, "'@'", 2) }}
        else {{ email }}
    end
{%- endmacro %}

{#- Meta: the phone's digits only, country code first, without '+' or leading zeros. -#}
{% macro meta_phone(expression) -%}
    trim(leading '0' from {{ regexp_replace_all(expression, '[^0-9]', '') }})
{%- endmacro %}
