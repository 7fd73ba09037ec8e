-- One row per customer (identity component) as of run_date, with the best known attributes: for each
-- attribute the most recent non-null value over the customer's records by updated_at (ties: smallest
-- record_key). Unsubscribes always win over consent.
{%- set attributes = [
    'first_name', 'last_name', 'gender', 'birth_date', 'email_normalized', 'phone_e164',
    'city', 'postcode', 'email_opt_in', 'sms_opt_in',
] %}
with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

unsubscribes as (

    select * from {{ ref('int_messaging_unsubscribes_deduplicated') }}

),

interactions as (

    select * from {{ ref('int_social_interactions_deduplicated') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

customer_records as (

    select
        resolved.customer_id,
        records.record_key,
        records.source,
        records.email_normalized,
        records.phone_e164,
        records.updated_at,
        records.first_seen_at
    from records
    inner join resolved
        on records.record_key = resolved.record_key

),

attribute_values as (
    {% for attribute in attributes %}
    select
        resolved.customer_id,
        '{{ attribute }}' as attribute_name,
        {{ dbt.safe_cast('records.' ~ attribute, dbt.type_string()) }} as attribute_value,
        records.updated_at,
        records.record_key
    from records
    inner join resolved
        on records.record_key = resolved.record_key
    where records.{{ attribute }} is not null
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}
),

ranked_values as (

    select
        customer_id,
        attribute_name,
        attribute_value,
        row_number() over (
            partition by customer_id, attribute_name
            order by updated_at desc, record_key asc
        ) as value_rank
    from attribute_values

),

best_values as (

    select
        customer_id,
        max(case when attribute_name = 'first_name' then attribute_value end) as first_name,
        max(case when attribute_name = 'last_name' then attribute_value end) as last_name,
        max(case when attribute_name = 'gender' then attribute_value end) as gender,
        max(case when attribute_name = 'birth_date' then attribute_value end) as birth_date,
        max(case when attribute_name = 'email_normalized' then attribute_value end) as email_normalized,
        max(case when attribute_name = 'phone_e164' then attribute_value end) as phone_e164,
        max(case when attribute_name = 'city' then attribute_value end) as city,
        max(case when attribute_name = 'postcode' then attribute_value end) as postcode,
        max(case when attribute_name = 'email_opt_in' then attribute_value end) as email_opt_in,
        max(case when attribute_name = 'sms_opt_in' then attribute_value end) as sms_opt_in
    from ranked_values
    where value_rank = 1
    group by customer_id

),

email_unsubscribed as (

    select distinct customer_records.customer_id
    from customer_records
    inner join unsubscribes
        on customer_records.email_normalized = unsubscribes.email_normalized
    where unsubscribes.channel = 'email'

),

sms_unsubscribed as (

    select distinct customer_records.customer_id
    from customer_records
    inner join unsubscribes
        on customer_records.phone_e164 = unsubscribes.phone_e164
    where unsubscribes.channel = 'sms'

),

customer_sources as (

    select distinct
        customer_id,
        source
    from customer_records

),

channel_lists as (

    select
        customer_id,
        {{ dbt.listagg('source', "','", 'order by source') }} as channels,
        max(case when source = 'pos' then 1 else 0 end) = 1 as has_pos,
        max(case when source = 'ecommerce' then 1 else 0 end) = 1 as has_ecommerce,
        max(case when source = 'social' then 1 else 0 end) = 1 as has_social
    from customer_sources
    group by customer_id

),

record_stats as (

    select
        customer_id,
        count(*) as source_record_count,
        min(first_seen_at) as first_seen_at,
        max(updated_at) as last_updated_at
    from customer_records
    group by customer_id

),

order_stats as (

    select
        customer_id,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at
    from orders
    where customer_id is not null
    group by customer_id

),

interaction_stats as (

    select
        customer_records.customer_id,
        min(interactions.interacted_at) as first_interaction_at,
        max(interactions.interacted_at) as last_interaction_at
    from interactions
    inner join customer_records
        on interactions.record_key = customer_records.record_key
    group by customer_records.customer_id

),

joined as (

    select
        record_stats.customer_id,
        best_values.first_name,
        best_values.last_name,
        best_values.gender,
        cast(best_values.birth_date as date) as birth_date,
        best_values.email_normalized as email,
        best_values.phone_e164 as phone,
        best_values.city,
        best_values.postcode,
        cast(best_values.email_opt_in as boolean) as email_opt_in,
        cast(best_values.sms_opt_in as boolean) as sms_opt_in,
        email_unsubscribed.customer_id is not null as is_email_unsubscribed,
        sms_unsubscribed.customer_id is not null as is_sms_unsubscribed,
        least(
            record_stats.first_seen_at,
            order_stats.first_order_at,
            interaction_stats.first_interaction_at
        ) as first_seen_at,
        greatest(
            record_stats.last_updated_at,
            order_stats.last_order_at,
            interaction_stats.last_interaction_at
        ) as last_seen_at,
        channel_lists.channels,
        channel_lists.has_pos,
        channel_lists.has_ecommerce,
        channel_lists.has_social,
        record_stats.source_record_count,
        order_stats.first_order_at,
        order_stats.last_order_at
    from record_stats
    left join best_values
        on record_stats.customer_id = best_values.customer_id
    left join channel_lists
        on record_stats.customer_id = channel_lists.customer_id
    left join email_unsubscribed
        on record_stats.customer_id = email_unsubscribed.customer_id
    left join sms_unsubscribed
        on record_stats.customer_id = sms_unsubscribed.customer_id
    left join order_stats
        on record_stats.customer_id = order_stats.customer_id
    left join interaction_stats
        on record_stats.customer_id = interaction_stats.customer_id

),

final as (

    select
        customer_id,
        first_name,
        last_name,
        gender,
        birth_date,
        email,
        phone,
        city,
        postcode,
        email_opt_in,
        sms_opt_in,
        is_email_unsubscribed,
        is_sms_unsubscribed,
        (
            email is not null and coalesce(email_opt_in, false) and not is_email_unsubscribed
        ) as is_email_contactable,
        (
            phone is not null and coalesce(sms_opt_in, false) and not is_sms_unsubscribed
        ) as is_sms_contactable,
        first_seen_at,
        last_seen_at,
        channels,
        has_pos,
        has_ecommerce,
        has_social,
        source_record_count,
        first_order_at,
        last_order_at
    from joined

)

select * from final
