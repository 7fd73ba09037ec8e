{#- Generic tests written here because dbt hub packages (dbt_utils) are not available. -#}

{#- Fails for every combination of the columns that occurs more than once (dbt_utils equivalent). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{#- Fails (one row) when the model does not have exactly `expected` rows. -#}
{% test expect_row_count(model, expected) %}
    select row_count
    from (select count(*) as row_count from {{ model }}) as counted
    where row_count <> {{ expected }}
{% endtest %}

{#- Fails for rows where the expression is not true (dbt_utils.expression_is_true equivalent). -#}
{% test expression_is_true(model, expression) %}
    select 1 as failing_row
    from {{ model }}
    where not ({{ expression }})
{% endtest %}
