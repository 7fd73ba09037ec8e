-- One row per coupon (coupon_code) as of run_date: the latest version (updated_at, then landing) of the
-- versions changed before run_date + 1 day. A redemption after run_date is not visible yet.
with

coupons as (

    select * from {{ ref('stg_pos__coupons') }}

),

ranked as (

    select
        coupon_code,
        campaign_id,
        loyalty_card_no,
        coupon_value,
        issued_at,
        valid_until,
        redeemed_at,
        redeemed_receipt_id,
        redeemed_store_id,
        updated_at,
        row_number() over (
            partition by coupon_code
            order by updated_at desc, load_date desc, _source_file desc, _source_line desc
        ) as version_rank
    from coupons
    where updated_at < {{ run_cutoff_at() }}

),

final as (

    select
        coupon_code,
        campaign_id,
        loyalty_card_no,
        case
            when loyalty_card_no is not null
                then {{ dbt.concat(["'pos:loyalty_members:'", "loyalty_card_no"]) }}
        end as record_key,
        coupon_value,
        issued_at,
        valid_until,
        redeemed_at,
        redeemed_receipt_id,
        redeemed_store_id,
        redeemed_at is not null as is_redeemed,
        updated_at
    from ranked
    where version_rank = 1

)

select * from final
