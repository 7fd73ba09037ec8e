{#-
    on-run-start: drop tables of models that moved to another schema or were removed, so an existing
    warehouse does not keep the old copy (dbt never drops relations of models it no longer has). Both
    hold plain contact data that must not stay in the analysts' schema: audience_contacts moved from
    `marts` to `restricted`; segment_members (email, names) was replaced by exports/ and
    audience_contacts.
-#}
{% macro drop_moved_relations() -%}
    {%- set moved = [('marts', 'audience_contacts'), ('marts', 'segment_members')] -%}
    {%- if execute -%}
        {%- for schema, identifier in moved -%}
            {%- set relation = adapter.get_relation(database=target.database, schema=schema, identifier=identifier) -%}
            {%- if relation is not none -%}
                {%- do adapter.drop_relation(relation) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
