{#-
    The SQL pieces of the identity clustering models (int_identity_records_grouped: pass 1,
    int_identity_records_clustered: pass 2) that both the model body and its pre-hooks render: on
    Spark the label propagation's checkpoint tables are written by pre-hooks (connected_components_hooks),
    which render the edges from these macros when the model runs, in the model's context.
-#}

{#- The column a previous result of int_identity_records_grouped must have to be read as its state
    (its newest column: a table written before it is an older layout). -#}
{% macro identity_grouping_marker() -%}
    {{ return('first_name_spelled_key') }}
{%- endmacro %}

{#- The previous result of int_identity_records_grouped as this run may read it, or none. -#}
{% macro identity_grouping_previous() -%}
    {{ return(previous_state(identity_grouping_marker())) }}
{%- endmacro %}

{#- A state written by other grouping logic or settings is not reused: the signature hashes the
    rendered conflict test (its settings included) and the cluster limit; bump the version when the
    rest of int_identity_records_grouped's logic changes. -#}
{% macro identity_grouping_state_signature() -%}
    {%- set max_records = var('identity_max_cluster_records') | int -%}
    {%- set conflict_test = groups_with_conflicts('records', ['label'], 'force_merged', 'sizes', max_records) -%}
    {{ return('v2-' ~ local_md5(conflict_test ~ '|' ~ max_records)[:12]) }}
{%- endmacro %}

{#- Records as of this run with what decides their group (int_identity_records_link_state). -#}
{% macro identity_grouping_current_records() -%}
(select * from {{ ref('int_identity_records_link_state') }})
{%- endmacro %}

{#- The rows of the previous result usable as the state: earlier run dates, same signature. -#}
{% macro identity_grouping_previous_records(previous) -%}
    (
        select *
        from {{ previous }}
        where
            as_of_date < {{ run_date_literal() }}
            and state_signature = '{{ identity_grouping_state_signature() }}'
    )
{%- endmacro %}

{#- Records whose group is recomputed in this run: all of them without a previous state; otherwise new
    records and every record of a previous group that lost a record, changed a record's name or
    birth-date keys or links, holds an override's record, or was suspicious. -#}
{% macro identity_grouping_affected_records(previous) -%}
{%- set current_records = identity_grouping_current_records() -%}
{%- set previous_records = identity_grouping_previous_records(previous) -%}
{%- if previous is none %}
select record_key from records
{%- else %}
select current_records.record_key
from {{ current_records }} as current_records
left join {{ previous_records }} as previous_records
    on current_records.record_key = previous_records.record_key
where
    previous_records.record_key is null
    or previous_records.pass1_label in (
        select previous_records.pass1_label
        from {{ previous_records }} as previous_records
        left join {{ current_records }} as current_records
            on previous_records.record_key = current_records.record_key
        where
            current_records.record_key is null
            or previous_records.review_reason is not null
            or previous_records.link_signature <> current_records.link_signature
            or {{ differs('previous_records.first_name_key', 'current_records.first_name_key') }}
            or {{ differs('previous_records.first_name_spelled_key', 'current_records.first_name_spelled_key') }}
            or {{ differs('previous_records.last_name_key', 'current_records.last_name_key') }}
            or {{ differs('previous_records.birth_date_key', 'current_records.birth_date_key') }}
            or previous_records.record_key in (
                select overrides.record_key_a
                from {{ ref('stg_config__identity_overrides') }} as overrides
                union all
                select overrides.record_key_b
                from {{ ref('stg_config__identity_overrides') }} as overrides
            )
    )
{%- endif %}
{%- endmacro %}

{#- Pass 1's links: the accepted links among the records recomputed (all accepted links on a first
    build), as a subquery aliased `accepted`. -#}
{% macro identity_grouping_links(previous) -%}
{%- if previous is none -%}
    (
        select
            record_key_l,
            record_key_r
        from {{ ref('int_identity_links') }}
        where is_accepted
    ) as accepted
{%- else -%}
    (
        select
            links.record_key_l,
            links.record_key_r
        from {{ ref('int_identity_links') }} as links
        inner join ({{ identity_grouping_affected_records(previous) }}) as affected_l
            on links.record_key_l = affected_l.record_key
        inner join ({{ identity_grouping_affected_records(previous) }}) as affected_r
            on links.record_key_r = affected_r.record_key
        where links.is_accepted
    ) as accepted
{%- endif -%}
{%- endmacro %}

{#- Pass 2's links: strong links (email and phone both shared, a force_merge override, or
    match_probability >= identity_strong_match_threshold) inside the groups pass 1 found suspicious,
    as a subquery aliased `strong_links`. -#}
{% macro identity_strong_links() -%}
    (
        select
            links.record_key_l,
            links.record_key_r
        from {{ ref('int_identity_links') }} as links
        inner join {{ ref('int_identity_records_grouped') }} as grouped
            on links.record_key_l = grouped.record_key
        where
            links.is_accepted
            and grouped.review_reason is not null
            and (
                links.link_rule in ('email+phone', 'override')
                or links.match_probability >= {{ var('identity_strong_match_threshold') }}
            )
    ) as strong_links
{%- endmacro %}
