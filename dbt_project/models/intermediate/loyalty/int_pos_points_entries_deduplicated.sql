-- One row per loyalty ledger entry (entry_id) booked before run_date + 1 day; resent rows count once.
with

entries as (

    select * from {{ ref('stg_pos__points_entries') }}

),

ranked as (

    select
        entry_id,
        loyalty_card_no,
        entry_type,
        points,
        points_delta,
        booked_at,
        receipt_id,
        store_id,
        expires_on,
        load_date,
        row_number() over (
            partition by entry_id
            order by load_date desc, _source_file desc, _source_line desc
        ) as landing_rank
    from entries
    where booked_at < {{ run_cutoff_at() }}

),

final as (

    select
        entry_id,
        loyalty_card_no,
        {{ dbt.concat(["'pos:loyalty_members:'", "loyalty_card_no"]) }} as record_key,
        entry_type,
        points,
        points_delta,
        booked_at,
        receipt_id,
        store_id,
        expires_on,
        load_date
    from ranked
    where landing_rank = 1

)

select * from final
