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

{#- Fails with one row per listed column holding nulls (its name and how many rows): every required
    column of a model in one scan, one dbt node instead of one not_null test per column (D71). -#}
{% test not_null_columns(model, column_names) %}
    select column_name, null_rows
    from (
        select
            columns_checked.column_name,
            case columns_checked.column_position
                {%- for column in column_names %}
                when {{ loop.index }} then counted.null_rows_{{ loop.index }}
                {%- endfor %}
            end as null_rows
        from (
            select
                {%- for column in column_names %}
                count(*) - count({{ column }}) as null_rows_{{ loop.index }}{{ "," if not loop.last }}
                {%- endfor %}
            from {{ model }}
        ) as counted
        cross join (
            values
            {%- for column in column_names %}
            ({{ loop.index }}, '{{ column }}'){{ "," if not loop.last }}
            {%- endfor %}
        ) as columns_checked (column_position, column_name)
    ) as per_column
    where null_rows > 0
{% endtest %}
