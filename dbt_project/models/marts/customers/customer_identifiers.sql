-- Every identifier of every customer as of run_date, one row per identity record and identifier type,
-- for analysts (no plain email or phone). Each record gives its own source id (loyalty card number,
-- web shop account id, guest order id or platform:user_handle, as in customer_identity_map, so every
-- record of the identity map is here) and, when it has them, its normalised email and E.164 phone,
-- masked (macros mask_email / mask_phone) and hashed (sha256_hex of the normalised value).
-- first_seen_at / last_seen_at are those of the record holding the identifier.
with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

customer_records as (

    select
        resolved.customer_id,
        records.record_key,
        records.source,
        records.entity,
        records.source_record_id,
        records.email_normalized,
        records.phone_e164,
        records.first_seen_at,
        records.updated_at
    from records
    inner join resolved
        on records.record_key = resolved.record_key

),

identifiers as (

    select
        customer_id,
        record_key,
        source,
        case entity
            when 'loyalty_members' then 'loyalty_card'
            when 'customers' then 'ecommerce_account'
            when 'orders' then 'guest_order'
            when 'profiles' then 'social_handle'
        end as identifier_type,
        source_record_id as identifier,
        first_seen_at,
        updated_at
    from customer_records

    union all

    select
        customer_id,
        record_key,
        source,
        'email' as identifier_type,
        email_normalized as identifier,
        first_seen_at,
        updated_at
    from customer_records
    where email_normalized is not null

    union all

    select
        customer_id,
        record_key,
        source,
        'phone' as identifier_type,
        phone_e164 as identifier,
        first_seen_at,
        updated_at
    from customer_records
    where phone_e164 is not null

),

final as (

    select
        customer_id,
        identifier_type,
        case identifier_type
            when 'email' then {{ mask_email('identifier') }}
            when 'phone' then {{ mask_phone('identifier') }}
            else identifier
        end as identifier_masked,
        {{ sha256_hex('identifier') }} as identifier_sha256,
        record_key,
        source,
        first_seen_at,
        updated_at as last_seen_at
    from identifiers

)

select * from final
