{#-
    Override of dbt-spark's column constraints for enforced contracts (restricted.audience_contacts):
    Spark can set NOT NULL only on Delta tables; on Parquet `alter table .. change column .. set not
    null` fails. The contract's column names and types are still enforced by dbt before the table is
    built; not-null is checked by the model's not_null data tests on both engines instead.
-#}
{% macro spark__alter_column_set_constraints(relation, column_dict) -%}
    {%- if config.get('file_format', 'parquet') in ('delta', 'iceberg') -%}
        {%- for column_name in column_dict -%}
            {%- for constraint in column_dict[column_name]['constraints'] if constraint.type == 'not_null' -%}
                {%- set quoted_name = adapter.quote(column_name) if column_dict[column_name]['quote'] else column_name -%}
                {%- call statement() -%}
                    alter table {{ relation }} change column {{ quoted_name }} set not null
                {%- endcall -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
