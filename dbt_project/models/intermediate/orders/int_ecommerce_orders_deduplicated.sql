-- One row per web shop order as of run_date: the latest version by updated_at wins (a refund resends
-- the order), ties broken by the latest landing. Only orders placed before run_date + 1 day, and only
-- versions changed before then, are considered.
with

orders as (

    select * from {{ ref('stg_ecommerce__orders') }}

),

ranked as (

    select
        order_id,
        customer_id,
        guest_email_normalized,
        billing_first_name,
        billing_last_name,
        billing_phone_e164,
        billing_address_line,
        billing_city,
        billing_postcode,
        placed_at,
        updated_at,
        status,
        currency,
        discount_code,
        load_date,
        _source_file,
        _source_line,
        row_number() over (
            partition by order_id
            order by updated_at desc, load_date desc, _source_file desc, _source_line desc
        ) as version_rank
    from orders
    where
        placed_at < {{ run_cutoff_at() }}
        and updated_at < {{ run_cutoff_at() }}

),

final as (

    select
        order_id,
        customer_id,
        guest_email_normalized,
        billing_first_name,
        billing_last_name,
        billing_phone_e164,
        billing_address_line,
        billing_city,
        billing_postcode,
        placed_at,
        updated_at,
        status,
        currency,
        discount_code,
        load_date,
        _source_file,
        _source_line
    from ranked
    where version_rank = 1

)

select * from final
