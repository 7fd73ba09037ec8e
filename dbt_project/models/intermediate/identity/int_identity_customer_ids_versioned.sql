-- Stable customer ids, versioned (SCD type 2: valid_from inclusive, valid_to exclusive, null = still
-- valid as of run_date), from the event log int_identity_customer_id_events: a version lasts until
-- the record's next event (a new id, or the record gone). Point-in-time: events after run_date are
-- not read, so a re-run of an older date sees the history as it stood that night.
with

events as (

    select * from {{ ref('int_identity_customer_id_events') }}
    where valid_from <= {{ run_date_literal() }}

),

versions as (

    select
        record_key,
        customer_id,
        valid_from,
        lead(valid_from) over (partition by record_key order by valid_from) as valid_to,
        id_minted_on
    from events

),

final as (

    select
        record_key,
        customer_id,
        valid_from,
        valid_to,
        id_minted_on
    from versions
    where customer_id is not null

)

select * from final
