-- One row per customer (identity component) as of run_date, for analysts: no plain personal data.
-- Attributes come from the survivorship in int_customer_attributes_survived; names, birth date,
-- postcode and the plain email / phone live only in restricted.customer_profiles, here they are
-- masked (email_masked, phone_masked), hashed (email_sha256) or reduced (has_*, birth_year).
-- Unsubscribes always win over consent. Provenance: <attribute>_source / <attribute>_record_key name
-- the record each surviving attribute came from (rules: var survivorship_rules); the *_count columns
-- count the customer's identifiers (customer_identifiers).
{%- set survived_attributes = survivorship_attributes() %}

with

records as (

    select * from {{ ref('int_identity_records_unioned') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

attributes as (

    select * from {{ ref('int_customer_attributes_survived') }}

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

identifiers as (

    select * from {{ ref('customer_identifiers') }}

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

identifier_counts as (

    select
        customer_id,
        -- the same address on several records counts once; every record has one source id
        count(distinct case when identifier_type = 'email' then identifier_sha256 end) as email_count,
        count(distinct case when identifier_type = 'phone' then identifier_sha256 end) as phone_count,
        sum(case when identifier_type = 'loyalty_card' then 1 else 0 end) as loyalty_card_count,
        sum(case when identifier_type = 'ecommerce_account' then 1 else 0 end) as ecommerce_account_count,
        sum(case when identifier_type = 'social_handle' then 1 else 0 end) as social_handle_count,
        sum(case when identifier_type = 'guest_order' then 1 else 0 end) as guest_order_count
    from identifiers
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
        attributes.gender,
        attributes.birth_date,
        attributes.email,
        attributes.phone,
        attributes.city,
        attributes.email_opt_in,
        attributes.sms_opt_in,
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
        identifier_counts.email_count,
        identifier_counts.phone_count,
        identifier_counts.loyalty_card_count,
        identifier_counts.ecommerce_account_count,
        identifier_counts.social_handle_count,
        identifier_counts.guest_order_count,
        order_stats.first_order_at,
        order_stats.last_order_at,
        {%- for attribute in survived_attributes %}
        attributes.{{ attribute }}_source,
        attributes.{{ attribute }}_record_key
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from record_stats
    left join attributes
        on record_stats.customer_id = attributes.customer_id
    left join channel_lists
        on record_stats.customer_id = channel_lists.customer_id
    left join email_unsubscribed
        on record_stats.customer_id = email_unsubscribed.customer_id
    left join sms_unsubscribed
        on record_stats.customer_id = sms_unsubscribed.customer_id
    left join identifier_counts
        on record_stats.customer_id = identifier_counts.customer_id
    left join order_stats
        on record_stats.customer_id = order_stats.customer_id
    left join interaction_stats
        on record_stats.customer_id = interaction_stats.customer_id

),

final as (

    select
        customer_id,
        gender,
        cast(extract(year from birth_date) as {{ dbt.type_int() }}) as birth_year,
        city,
        email is not null as has_email,
        phone is not null as has_phone,
        {{ mask_email('email') }} as email_masked,
        {{ sha256_hex('email') }} as email_sha256,
        {{ mask_phone('phone') }} as phone_masked,
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
        email_count,
        phone_count,
        loyalty_card_count,
        ecommerce_account_count,
        social_handle_count,
        guest_order_count,
        first_order_at,
        last_order_at,
        {%- for attribute in survived_attributes %}
        {{ attribute }}_source,
        {{ attribute }}_record_key
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from joined

)

select * from final
