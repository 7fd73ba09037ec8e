{#-
    Quintile score 1..5 from a rank() (1 = lowest value) and the number of ranked rows:
    1 + floor(5 * percent_rank), percent_rank = (rank - 1) / (rows - 1), written as exact integer
    comparisons (no floating point, no division by zero). Ties share a rank, hence a score.
-#}
{% macro quintile_score(rank_column, count_column) -%}
    cast(1
        {%- for threshold in range(1, 5) %}
        + case
            when
                {{ rank_column }} > 1
                and 5 * ({{ rank_column }} - 1) >= {{ threshold }} * ({{ count_column }} - 1)
                then 1
            else 0
        end
        {%- endfor %}
    as {{ dbt.type_int() }})
{%- endmacro %}
