-- Every change of customer ids, one row per event and run date, so downstream users can follow a
-- customer through merges and splits (read with int_identity_customer_ids_versioned's rules):
--   created         new customer_id for records never seen before
--   records_added   new records joined an existing customer
--   merged          every record of previous_customer_id now carries customer_id (the older id)
--   split           customer_id is new, made of records that carried previous_customer_id
--   moved           some records of previous_customer_id moved to an existing customer_id
--   records_removed records left the customer (erased by cdp forget, or their source record is gone)
--   retired         customer_id has no records any more (without being merged)
-- Incremental by as_of_date (the run date; delete+insert), so a re-run of a date replaces that date's events.
{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    full_refresh=false,
    **replace_date_slice('as_of_date')
) }}
with

versioned as (

    select * from {{ ref('int_identity_customer_ids_versioned') }}

),

opened as (

    select
        record_key,
        customer_id,
        id_minted_on
    from versioned
    where valid_from = {{ run_date_literal() }}

),

closed as (

    select
        record_key,
        customer_id
    from versioned
    where valid_to = {{ run_date_literal() }}

),

still_valid as (

    select distinct customer_id
    from versioned
    where
        valid_from <= {{ run_date_literal() }}
        and (valid_to is null or valid_to > {{ run_date_literal() }})

),

changes as (

    select
        opened.customer_id,
        opened.id_minted_on,
        closed.customer_id as previous_customer_id,
        count(*) as record_count
    from opened
    left join closed
        on opened.record_key = closed.record_key
    group by opened.customer_id, opened.id_minted_on, closed.customer_id

),

removals as (

    select
        closed.customer_id,
        count(*) as record_count
    from closed
    left join opened
        on closed.record_key = opened.record_key
    where opened.record_key is null
    group by closed.customer_id

),

events as (

    select
        customer_id,
        previous_customer_id,
        case
            when previous_customer_id is null and id_minted_on = {{ run_date_literal() }} then 'created'
            when previous_customer_id is null then 'records_added'
            when id_minted_on = {{ run_date_literal() }} then 'split'
            when previous_customer_id not in (select still_valid.customer_id from still_valid) then 'merged'
            else 'moved'
        end as event_type,
        record_count
    from changes

    union all

    select
        customer_id,
        cast(null as {{ dbt.type_string() }}) as previous_customer_id,
        case
            when removals.customer_id in (select still_valid.customer_id from still_valid) then 'records_removed'
            else 'retired'
        end as event_type,
        record_count
    from removals

),

final as (

    select
        {{ run_date_literal() }} as as_of_date,
        event_type,
        customer_id,
        previous_customer_id,
        record_count
    from events

)

select * from final
