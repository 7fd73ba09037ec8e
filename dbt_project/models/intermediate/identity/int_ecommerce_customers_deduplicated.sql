-- One row per web shop account as of run_date: the latest version by updated_at wins, ties broken by
-- the latest landing. Versions changed at or after run_date + 1 day are left out.
with

customers as (

    select * from {{ ref('stg_ecommerce__customers') }}

),

ranked as (

    select
        customer_id,
        email_normalized,
        first_name,
        last_name,
        phone_e164,
        birth_date,
        gender,
        address_line,
        city,
        postcode,
        country_code,
        created_at,
        updated_at,
        email_opt_in,
        sms_opt_in,
        load_date,
        row_number() over (
            partition by customer_id
            order by updated_at desc, load_date desc, _source_file desc, _source_line desc
        ) as version_rank,
        min(
            case when created_at < updated_at then created_at else updated_at end
        ) over (partition by customer_id) as first_seen_at
    from customers
    where updated_at < {{ run_cutoff_at() }}

),

final as (

    select
        customer_id,
        email_normalized,
        first_name,
        last_name,
        phone_e164,
        birth_date,
        gender,
        address_line,
        city,
        postcode,
        country_code,
        created_at,
        updated_at,
        email_opt_in,
        sms_opt_in,
        first_seen_at,
        load_date
    from ranked
    where version_rank = 1

)

select * from final
