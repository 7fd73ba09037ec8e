-- One row per receipt line (store_id, receipt_date, receipt_id, line_no) as of run_date: a line resent
-- in a later drop counts once (latest landing wins). Receipt numbers are unique per store and business
-- day only (the POS contract): the day is part of the key, or a till numbering from 0001 each morning
-- would collapse every day's receipts into one. Lines printed at or after run_date + 1 day are left out.
-- A view, not a table: at ~10M lines writing this table cost more than the whole rest of the build;
-- its only consumer, int_pos_receipts_aggregated, dedupes and aggregates in one pass.
{{ config(materialized='view') }}
with

transactions as (

    select * from {{ ref('stg_pos__transactions') }}

),

ranked as (

    select
        store_id,
        receipt_date,
        receipt_id,
        line_no,
        transacted_at,
        loyalty_card_no,
        sku,
        category,
        quantity,
        unit_price,
        discount_amount,
        currency,
        payment_method,
        load_date,
        _source_file,
        _source_line,
        row_number() over (
            partition by store_id, receipt_date, receipt_id, line_no
            order by load_date desc, _source_file desc, _source_line desc
        ) as landing_rank
    from transactions
    where transacted_at < {{ run_cutoff_at() }}

),

final as (

    select
        store_id,
        receipt_date,
        receipt_id,
        line_no,
        transacted_at,
        loyalty_card_no,
        sku,
        category,
        quantity,
        unit_price,
        discount_amount,
        currency,
        payment_method,
        load_date,
        _source_file,
        _source_line
    from ranked
    where landing_rank = 1

)

select * from final
