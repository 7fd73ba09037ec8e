{#- The order_id of a POS receipt: store, business day and receipt number. Receipt numbers are unique
    per store and day only (ingest/contracts/pos.yml), so all three are the key. -#}
{% macro pos_order_id() -%}
    {{ dbt.concat(["'pos:'", "store_id", "':'", dbt.cast("receipt_date", dbt.type_string()), "':'", "receipt_id"]) }}
{%- endmacro %}
