-- Data-quality metrics per source and run date (one row per as_of_date, source and metric), kept as a
-- history: incremental with delete+insert on as_of_date (the run date), so a re-run replaces its date
-- and other dates stay; full_refresh is off (a --full-refresh must not wipe the trend). Every rule is read from the
-- models that own it: rows kept by the deduplicated models (their keys and tie-breaks), contacts as
-- identity normalised them, matches from the identity map, quarantined rows from the quarantine
-- zone. A metric whose denominator is zero is not written (no row rather than a made-up zero).
-- Shares are doubles throughout (cast(1 as double), not 1.0: Spark reads 1.0 as a decimal and would
-- round the average, and the engines must agree).
-- The source system is `source`, as in the identity marts (D48); `source_name` stays one release as a
-- deprecated alias. A table built before the rename lacks `source`: append_new_columns adds it, and
-- that one run also rewrites every earlier date from the old column (earlier_dates below), so no date
-- is left with a null `source`. Spark reads a copy of the old table (previous_state hooks).
{%- set old_layout_marker = '!source' %}
{%- set old_layout = previous_state(old_layout_marker) %}
{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    full_refresh=false,
    pre_hook=previous_state_hooks(old_layout_marker),
    post_hook=["{{ release_previous_state() }}"],
    **replace_date_slice('as_of_date')
) }}
with

landed as (

    select
        'pos' as source,
        load_date,
        1 as is_parent
    from {{ ref('stg_pos__transactions') }}
    union all
    select
        'pos' as source,
        load_date,
        1 as is_parent
    from {{ ref('stg_pos__loyalty_members') }}
    union all
    select
        'ecommerce' as source,
        load_date,
        1 as is_parent
    from {{ ref('stg_ecommerce__customers') }}
    union all
    select
        'ecommerce' as source,
        load_date,
        1 as is_parent
    from {{ ref('stg_ecommerce__orders') }}
    union all
    select
        'ecommerce' as source,
        load_date,
        0 as is_parent
    from {{ ref('stg_ecommerce__order_lines') }}
    union all
    select
        'social' as source,
        load_date,
        1 as is_parent
    from {{ ref('stg_social__profiles') }}
    union all
    select
        'social' as source,
        load_date,
        1 as is_parent
    from {{ ref('stg_social__interactions') }}
    union all
    select
        'messaging' as source,
        load_date,
        1 as is_parent
    from {{ ref('stg_messaging__unsubscribes') }}

),

kept as (

    select 'pos' as source from {{ ref('int_pos_transactions_deduplicated') }}
    union all
    select 'pos' as source from {{ ref('int_pos_loyalty_members_deduplicated') }}
    union all
    select 'ecommerce' as source from {{ ref('int_ecommerce_customers_deduplicated') }}
    union all
    select 'ecommerce' as source from {{ ref('int_ecommerce_orders_deduplicated') }}
    union all
    select 'ecommerce' as source from {{ ref('int_ecommerce_order_lines_deduplicated') }}
    union all
    select 'social' as source from {{ ref('int_social_profiles_deduplicated') }}
    union all
    select 'social' as source from {{ ref('int_social_interactions_deduplicated') }}
    union all
    select 'messaging' as source from {{ ref('int_messaging_unsubscribes_deduplicated') }}

),

people as (

    select
        'pos' as source,
        email_normalized,
        phone_e164
    from {{ ref('int_pos_loyalty_members_deduplicated') }}
    union all
    select
        'ecommerce' as source,
        email_normalized,
        phone_e164
    from {{ ref('int_ecommerce_customers_deduplicated') }}
    union all
    select
        'social' as source,
        email_normalized,
        phone_e164
    from {{ ref('int_social_profiles_deduplicated') }}

),

quarantined as (

    select
        source_name as source,
        load_date
    from {{ ref('stg_quarantine__pos_transactions') }}
    union all
    select
        source_name as source,
        load_date
    from {{ ref('stg_quarantine__pos_loyalty_members') }}
    union all
    select
        source_name as source,
        load_date
    from {{ ref('stg_quarantine__ecommerce_customers') }}
    union all
    select
        source_name as source,
        load_date
    from {{ ref('stg_quarantine__ecommerce_orders') }}
    union all
    select
        source_name as source,
        load_date
    from {{ ref('stg_quarantine__social_profiles') }}
    union all
    select
        source_name as source,
        load_date
    from {{ ref('stg_quarantine__social_interactions') }}
    union all
    select
        source_name as source,
        load_date
    from {{ ref('stg_quarantine__messaging_unsubscribes') }}

),

identity_map as (

    select * from {{ ref('customer_identity_map') }}

),

landed_counts as (

    select
        source,
        count(*) as rows_landed,
        sum(
            case when load_date = {{ run_date_literal() }} and is_parent = 1 then 1 else 0 end
        ) as parent_rows_landed_today
    from landed
    group by source

),

kept_counts as (

    select
        source,
        count(*) as rows_kept
    from kept
    group by source

),

quarantined_counts as (

    select
        source,
        count(*) as rows_quarantined_today
    from quarantined
    where load_date = {{ run_date_literal() }}
    group by source

),

-- Rows the deduplicated models do not keep: older versions and re-sent copies of a record (and the
-- rare row they cannot use, e.g. an unsubscribe without an address).
duplicate_rates as (

    select
        landed_counts.source,
        'duplicate_rate' as metric,
        cast(1 as double) - cast(coalesce(kept_counts.rows_kept, 0) as double) / landed_counts.rows_landed
            as metric_value
    from landed_counts
    left join kept_counts on landed_counts.source = kept_counts.source
    where landed_counts.rows_landed > 0

),

-- Of the run date's rows read (erased ones aside), the share quarantined; parent entities only, as
-- ingest's manifests total them.
quarantine_rates as (

    select
        landed_counts.source,
        'quarantine_rate' as metric,
        cast(coalesce(quarantined_counts.rows_quarantined_today, 0) as double)
        / (landed_counts.parent_rows_landed_today + coalesce(quarantined_counts.rows_quarantined_today, 0))
            as metric_value
    from landed_counts
    left join quarantined_counts on landed_counts.source = quarantined_counts.source
    where landed_counts.parent_rows_landed_today + coalesce(quarantined_counts.rows_quarantined_today, 0) > 0

),

-- Of the people records as of the run date (latest version), the share with an email or a phone.
contact_completeness as (

    select
        source,
        'contact_completeness' as metric,
        avg(
            case
                when email_normalized is not null or phone_e164 is not null then cast(1 as double)
                else cast(0 as double)
            end
        ) as metric_value
    from people
    group by source

),

customer_sizes as (

    select
        customer_id,
        count(*) as record_count
    from identity_map
    group by customer_id

),

-- Of the source's records, the share whose customer has more than one record (matched to another).
match_rates as (

    select
        identity_map.source,
        'match_rate' as metric,
        avg(case when customer_sizes.record_count > 1 then cast(1 as double) else cast(0 as double) end) as metric_value
    from identity_map
    inner join customer_sizes on identity_map.customer_id = customer_sizes.customer_id
    group by identity_map.source

),

metrics as (

    select * from duplicate_rates
    union all
    select * from quarantine_rates
    union all
    select * from contact_completeness
    union all
    select * from match_rates

),

tonight as (

    select
        {{ run_date_literal() }} as as_of_date,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(metric as {{ dbt.type_string() }}) as metric,
        cast(metric_value as double) as metric_value
    from metrics

),
{%- if old_layout is not none %}

-- Once, on a table built before D48: the earlier dates, their old column under the canonical name.
earlier_dates as (

    select
        as_of_date,
        cast(source_name as {{ dbt.type_string() }}) as source,
        metric,
        metric_value
    from {{ old_layout }}
    where as_of_date <> {{ run_date_literal() }}

),
{%- endif %}

canonical as (

    select * from tonight
    {%- if old_layout is not none %}
    union all
    select * from earlier_dates
    {%- endif %}

),

final as (

    select
        *,
        {{ deprecated_aliases({'source_name': 'source'}) }}
    from canonical

)

select * from final
