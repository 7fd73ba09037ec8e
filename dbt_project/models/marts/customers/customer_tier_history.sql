-- customer_tiers appended per run date, with the tier of the previous run date in the history:
-- one row per customer and as_of_date. Incremental with delete+insert keyed on as_of_date, so a re-run
-- of a date replaces that date's rows (idempotent, never doubles); full_refresh is off so a
-- --full-refresh does not wipe the history. The previous date is the latest as_of_date in the history
-- before run_date (one date, so the lookup reads one date's rows, not the whole history).
-- Tier changes: select * from marts.customer_tier_history where is_tier_changed.
{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    full_refresh=false,
    **replace_date_slice('as_of_date')
) }}
with

tiers as (

    select * from {{ ref('customer_tiers') }}

),

{% if is_incremental() -%}
previous_date as (

    select max(as_of_date) as as_of_date
    from {{ this }}
    where as_of_date < {{ run_date_literal() }}

),

previous_tiers as (

    select
        history.customer_id,
        history.as_of_date,
        history.tier,
        history.tier_rank
    from {{ this }} as history
    inner join previous_date
        on history.as_of_date = previous_date.as_of_date

),
{%- else -%}
previous_tiers as (

    select
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as date) as as_of_date,
        cast(null as {{ dbt.type_string() }}) as tier,
        cast(null as {{ dbt.type_int() }}) as tier_rank
    where 1 = 0

),
{%- endif %}

final as (

    select
        tiers.customer_id,
        tiers.as_of_date,
        tiers.tier,
        tiers.tier_rank,
        tiers.spend_12m,
        tiers.orders_12m,
        previous_tiers.as_of_date as previous_as_of_date,
        previous_tiers.tier as previous_tier,
        previous_tiers.tier_rank as previous_tier_rank,
        coalesce(previous_tiers.tier <> tiers.tier, false) as is_tier_changed,
        case
            when previous_tiers.tier is null then 'new'
            when tiers.tier_rank > previous_tiers.tier_rank then 'upgrade'
            when tiers.tier_rank < previous_tiers.tier_rank then 'downgrade'
            else 'unchanged'
        end as tier_change
    from tiers
    left join previous_tiers
        on tiers.customer_id = previous_tiers.customer_id

)

select * from final
