-- One row per identity-bearing record, all sources in one shape. record_key =
-- source:entity:source_record_id. Records: POS loyalty members, web shop accounts, web shop guest
-- orders (guest email and billing name, phone, address), social profiles (id =
-- platform:user_handle), plus stub records for loyalty cards / accounts that appear on orders but
-- whose member/account record has not landed (is_stub; no attributes) so that every identified order
-- still gets a customer.
with

members as (

    select * from {{ ref('int_pos_loyalty_members_deduplicated') }}

),

customers as (

    select * from {{ ref('int_ecommerce_customers_deduplicated') }}

),

orders as (

    select * from {{ ref('int_ecommerce_orders_deduplicated') }}

),

receipts as (

    select * from {{ ref('int_pos_receipts_aggregated') }}

),

profiles as (

    select * from {{ ref('int_social_profiles_deduplicated') }}

),

member_records as (

    select
        'pos' as source,
        'loyalty_members' as entity,
        loyalty_card_no as source_record_id,
        email_normalized,
        phone_e164,
        first_name,
        last_name,
        cast(null as {{ dbt.type_string() }}) as display_name,
        gender,
        birth_date,
        address_line,
        city,
        postcode,
        email_opt_in,
        sms_opt_in,
        updated_at,
        first_seen_at,
        false as is_stub
    from members

),

customer_records as (

    select
        'ecommerce' as source,
        'customers' as entity,
        customer_id as source_record_id,
        email_normalized,
        phone_e164,
        first_name,
        last_name,
        cast(null as {{ dbt.type_string() }}) as display_name,
        gender,
        birth_date,
        address_line,
        city,
        postcode,
        email_opt_in,
        sms_opt_in,
        updated_at,
        first_seen_at,
        false as is_stub
    from customers

),

guest_order_records as (

    select
        'ecommerce' as source,
        'orders' as entity,
        order_id as source_record_id,
        guest_email_normalized as email_normalized,
        billing_phone_e164 as phone_e164,
        billing_first_name as first_name,
        billing_last_name as last_name,
        cast(null as {{ dbt.type_string() }}) as display_name,
        cast(null as {{ dbt.type_string() }}) as gender,
        cast(null as date) as birth_date,
        billing_address_line as address_line,
        billing_city as city,
        billing_postcode as postcode,
        cast(null as boolean) as email_opt_in,
        cast(null as boolean) as sms_opt_in,
        updated_at,
        placed_at as first_seen_at,
        false as is_stub
    from orders
    where customer_id is null

),

unknown_accounts as (

    select
        orders.customer_id,
        min(orders.placed_at) as first_order_at
    from orders
    left join customers
        on orders.customer_id = customers.customer_id
    where
        orders.customer_id is not null
        and customers.customer_id is null
    group by orders.customer_id

),

unknown_cards as (

    select
        receipts.loyalty_card_no,
        min(receipts.transacted_at) as first_order_at
    from receipts
    left join members
        on receipts.loyalty_card_no = members.loyalty_card_no
    where
        receipts.loyalty_card_no is not null
        and members.loyalty_card_no is null
    group by receipts.loyalty_card_no

),

stub_records as (

    select
        'ecommerce' as source,
        'customers' as entity,
        customer_id as source_record_id,
        first_order_at
    from unknown_accounts

    union all

    select
        'pos' as source,
        'loyalty_members' as entity,
        loyalty_card_no as source_record_id,
        first_order_at
    from unknown_cards

),

stub_records_shaped as (

    select
        source,
        entity,
        source_record_id,
        cast(null as {{ dbt.type_string() }}) as email_normalized,
        cast(null as {{ dbt.type_string() }}) as phone_e164,
        cast(null as {{ dbt.type_string() }}) as first_name,
        cast(null as {{ dbt.type_string() }}) as last_name,
        cast(null as {{ dbt.type_string() }}) as display_name,
        cast(null as {{ dbt.type_string() }}) as gender,
        cast(null as date) as birth_date,
        cast(null as {{ dbt.type_string() }}) as address_line,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_string() }}) as postcode,
        cast(null as boolean) as email_opt_in,
        cast(null as boolean) as sms_opt_in,
        first_order_at as updated_at,
        first_order_at as first_seen_at,
        true as is_stub
    from stub_records

),

social_records as (

    select
        'social' as source,
        'profiles' as entity,
        {{ dbt.concat(["platform", "':'", "user_handle"]) }} as source_record_id,
        email_normalized,
        phone_e164,
        cast(null as {{ dbt.type_string() }}) as first_name,
        cast(null as {{ dbt.type_string() }}) as last_name,
        display_name,
        cast(null as {{ dbt.type_string() }}) as gender,
        cast(null as date) as birth_date,
        cast(null as {{ dbt.type_string() }}) as address_line,
        city,
        cast(null as {{ dbt.type_string() }}) as postcode,
        cast(null as boolean) as email_opt_in,
        cast(null as boolean) as sms_opt_in,
        updated_at,
        first_seen_at,
        false as is_stub
    from profiles

),

unioned as (

    select * from member_records
    union all
    select * from customer_records
    union all
    select * from guest_order_records
    union all
    select * from stub_records_shaped
    union all
    select * from social_records

),

final as (

    select
        {{ dbt.concat(["source", "':'", "entity", "':'", "source_record_id"]) }} as record_key,
        source,
        entity,
        source_record_id,
        email_normalized,
        phone_e164,
        first_name,
        last_name,
        display_name,
        gender,
        birth_date,
        address_line,
        city,
        postcode,
        email_opt_in,
        sms_opt_in,
        updated_at,
        first_seen_at,
        is_stub
    from unioned

)

select * from final
