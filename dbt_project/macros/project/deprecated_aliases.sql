{#-
    Deprecated alias columns (D48): a column renamed to its canonical name stays for one release under
    its old name, for analysts' saved queries. `aliases` maps each old name to its canonical column;
    they are selected as `<canonical> as <alias>`, in that order, separated by commas (none before the
    first or after the last), so an alias is its canonical column by construction. The model's YAML
    documents each alias as a column with config: {meta: {deprecated_alias_of: <canonical>}}; when the
    model runs, the two lists must agree (a compilation error otherwise; dbt unit tests, which do not
    see the model's YAML columns, skip that check). tests/test_mart_column_names.py checks them too.
    Use in a model's last CTE: select *, {{ deprecated_aliases({'old': 'new'}) }} from <canonical>.
-#}
{% macro deprecated_aliases(aliases) -%}
    {%- if execute and model.unique_id.startswith('model.') -%}
        {%- set declared = {} -%}
        {%- for column in model.columns.values() if (column.meta or {}).get('deprecated_alias_of') -%}
            {%- do declared.update({column.name: column.meta['deprecated_alias_of']}) -%}
        {%- endfor -%}
        {%- if declared != aliases -%}
            {{ exceptions.raise_compiler_error(
                model.name ~ ": deprecated_aliases(" ~ aliases ~ ") differs from the YAML's deprecated_alias_of "
                ~ declared
            ) }}
        {%- endif -%}
    {%- endif -%}
    {%- set selected = [] -%}
    {%- for alias, canonical in aliases.items() -%}
        {%- do selected.append(canonical ~ ' as ' ~ alias) -%}
    {%- endfor -%}
    {{ selected | join(',\n        ') }}
{%- endmacro %}
