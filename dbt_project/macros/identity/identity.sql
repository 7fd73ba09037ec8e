{#-
    Identity-resolution building blocks (docs/architecture.md, "Identity resolution"). Portable SQL;
    engine-specific functions (accent folding, edit distance, connected components) sit behind
    adapter.dispatch in macros/cross_engine/.
-#}

{#- Comparison key of a name: full-width and accents folded, lower case, letters only (any script,
    so Han characters stay), spaces, dots, hyphens, apostrophes and emoji dropped:
    "Van der Berg" -> 'vanderberg', 'O''Brien' -> 'obrien', 'ＡＮＮＡ ✨' -> 'anna'. -#}
{% macro name_match_key(expression) -%}
    nullif({{ regexp_replace_all('lower(' ~ fold_accents(fold_fullwidth(expression)) ~ ')', '[^\\pL]', '') }}, '')
{%- endmacro %}

{#- True when a name key is written in Chinese characters only (CJK Unified Ideographs). -#}
{% macro is_han(expression) -%}
    {{ regexp_matches(expression, '^[一-鿿]+$') }}
{%- endmacro %}

{#- A Han-script name key as toneless pinyin: the key `expression`, whose characters 1..max_han are
    joined as `<alias>_<position>` to the seed name_transliterations; position 1 reads `first_column`
    (a family name's reading as a surname), the others `latin`. Kept as it is when longer than max_han
    or when a character is not in the seed. -#}
{% macro transliterated_han_name(expression, alias, max_han, first_column) -%}
    {%- set parts = [alias ~ '_1.' ~ first_column] -%}
    {%- for position in range(2, max_han + 1) -%}
        {%- do parts.append("coalesce(" ~ alias ~ "_" ~ position ~ ".latin, '')") -%}
    {%- endfor -%}
    case
        when
            {{ is_han(expression) }}
            and length({{ expression }}) <= {{ max_han }}
            {%- for position in range(1, max_han + 1) %}
            and (length({{ expression }}) < {{ position }} or {{ alias }}_{{ position }}.han is not null)
            {%- endfor %}
            then {{ dbt.concat(parts) }}
        else {{ expression }}
    end
{%- endmacro %}

{#- The left joins transliterated_han_name reads: for each alias -> key column of `relation`, the
    seed `transliterations` joined once per character position 1..max_han as `<alias>_<position>`. -#}
{% macro han_transliteration_joins(relation, transliterations, keys, max_han) -%}
    {%- for alias, column in keys.items() %}
    {%- for position in range(1, max_han + 1) %}
    left join {{ transliterations }} as {{ alias }}_{{ position }}
        on substr({{ relation }}.{{ column }}, {{ position }}, 1) = {{ alias }}_{{ position }}.han
    {%- endfor %}
    {%- endfor %}
{%- endmacro %}

{#- Email comparison key with provider rules: '+tag' sub-addresses dropped for every domain
    (Gmail, Outlook, iCloud, Fastmail and most others deliver 'anna+shop@x' to 'anna@x'); dots in the
    local part dropped and googlemail.com read as gmail.com for Gmail, which ignores them. Input is
    already trimmed, lower-cased and full-width folded (normalize_email). -#}
{% macro email_match_key(expression) -%}
    {%- set local_part = dbt.split_part(dbt.split_part(expression, "'@'", 1), "'+'", 1) -%}
    {%- set domain = dbt.split_part(expression, "'@'", 2) -%}
    case
        when {{ expression }} is null then null
        when {{ domain }} in ('gmail.com', 'googlemail.com')
            then {{ dbt.concat([dbt.replace(local_part, "'.'", "''"), "'@gmail.com'"]) }}
        else {{ dbt.concat([local_part, "'@'", domain]) }}
    end
{%- endmacro %}

{#- Agreement level of two name keys: -1 a side missing, 3 equal, 2 within distances[0] edits,
    1 within distances[1] edits, 0 otherwise (edit_distance: the same on DuckDB and Spark). Edits
    count as closeness only when they leave most of the shorter name standing (twice the edits below
    its length) or are one typo (a letter changed, added or dropped, or two adjacent letters swapped):
    short names two letters apart are other names ('na' / 'xia', 'li' / 'min', 'sem' / 'sven'; 'tao' /
    'chao' stays close; 20,000 generated people, typical noise: 15 of the 21 accepted probabilistic
    links between such names without agreeing birth dates joined two people). -#}
{% macro name_agreement_level(left_name, right_name, distances, edits=none) -%}
    {%- set edits = edits or edit_distance(left_name, right_name) -%}
    {%- set substantial = '(2 * ' ~ edits ~ ' < least(length(' ~ left_name ~ '), length(' ~ right_name ~ '))'
        ~ ' or ' ~ within_one_typo(left_name, right_name, 4, edits) ~ ')' -%}
    case
        when {{ left_name }} is null or {{ right_name }} is null then -1
        when {{ left_name }} = {{ right_name }} then 3
        when {{ edits }} <= {{ distances[0] }} and {{ substantial }} then 2
        when {{ edits }} <= {{ distances[1] }} and {{ substantial }} then 1
        else 0
    end
{%- endmacro %}

{#- The bipartite form connected_components() reads, from a relation of links (record_key_l,
    record_key_r): each link is a node that both its records carry. -#}
{% macro link_nodes(links) -%}
    select
        record_key_l as record_key,
        {{ dbt.concat(["record_key_l", "'~'", "record_key_r"]) }} as node_key
    from {{ links }}
    union all
    select
        record_key_r as record_key,
        {{ dbt.concat(["record_key_l", "'~'", "record_key_r"]) }} as node_key
    from {{ links }}
{%- endmacro %}

{#- The record pairs of the identity overrides file as int_identity_links records them (`links`):
    action 'keep_apart' (the link rejected) or 'force_merge' (an override link). -#}
{% macro overridden_pairs(links, action) -%}
    select
        record_key_l,
        record_key_r
    from {{ links }}
    {%- if action == 'keep_apart' %}
    where rejection_reason = 'keep_apart override'
    {%- elif action == 'force_merge' %}
    where link_rule = 'override'
    {%- else %}
    {{ exceptions.raise_compiler_error("overridden_pairs: action is 'keep_apart' or 'force_merge'") }}
    {%- endif %}
{%- endmacro %}

{#- Strong attributes of two records (aliases with int_identity_records_standardised columns) that say
    they are different people: both birth dates known and different - not merely a typo of each other
    (birth_dates_nearly_equal) - while the first names are not within identity_name_distances[1] edits
    and the names are not swapped ... (one conflicting attribute is taken as a typo when the other one
    agrees or nearly agrees: a household or a family email conflicts on both, a mistyped birth date on
    one; FEBRL4 replaces whole birth dates, types first names with an edit or two and swaps first and
    last names) -#}
{% macro birth_dates_conflict(left, right) -%}
    {%- set distance = var('identity_name_distances')[1] | int -%}
    coalesce({{ left }}.birth_date_key <> {{ right }}.birth_date_key, false)
    and not coalesce({{ birth_dates_nearly_equal(left ~ '.birth_date_key', right ~ '.birth_date_key') }}, false)
    and not {{ first_names_within(left, right, distance) }}
    and not {{ names_swapped_within(left, right, distance) }}
{%- endmacro %}

{#- ... or both first names known in Latin letters and more than identity_name_distances[1] edits
    apart while the birth dates are not the same or nearly so, unless the names are swapped (first
    within that distance of the other's last name and last of the other's first: forms swap them);
    or both in Han characters and different, unless swapped exactly: a Chinese given name has one or
    two characters, so one character apart is another name, not a typo; edit distances count UTF-8
    bytes, so '勇' / '军' are 2 edits apart, within the Latin rule's distance (20,000 generated
    people: all 12 accepted links between such names joined two people). Han names are keyed by their
    pinyin (int_identity_records_standardised), so this rule sees only characters outside the seed
    name_transliterations. -#}
{% macro first_names_conflict(left, right) -%}
    {%- set distance = var('identity_name_distances')[1] | int -%}
    coalesce(
        (
            {{ regexp_matches(left ~ '.first_name_key', '^[a-z]+$') }}
            and {{ regexp_matches(right ~ '.first_name_key', '^[a-z]+$') }}
            and not {{ first_names_within(left, right, distance) }}
            and not {{ names_swapped_within(left, right, distance) }}
        )
        or (
            {{ is_han(left ~ '.first_name_key') }}
            and {{ is_han(right ~ '.first_name_key') }}
            and {{ left }}.first_name_key != {{ right }}.first_name_key
            and not {{ names_swapped_within(left, right, 0) }}
        ),
        false
    )
    and not coalesce({{ left }}.birth_date_key = {{ right }}.birth_date_key, false)
    and not coalesce({{ birth_dates_nearly_equal(left ~ '.birth_date_key', right ~ '.birth_date_key') }}, false)
{%- endmacro %}

{#- First names of two records within `distance` edits, as keyed (a nickname by the name it stands
    for) or as spelled (a typo inside a nickname: 'ggerrit' is not in the seed name_variants, but one
    edit from 'gerrit'). False when a side is missing. -#}
{% macro first_names_within(left, right, distance) -%}
    (
        coalesce({{ edit_distance(left ~ '.first_name_key', right ~ '.first_name_key') }} <= {{ distance }}, false)
        or coalesce(
            {{ edit_distance(left ~ '.first_name_spelled_key', right ~ '.first_name_spelled_key') }} <= {{ distance }},
            false
        )
    )
{%- endmacro %}

{#- Names swapped between two records: one record's first name within `distance` edits of the other's
    last name, and the other cross pair within it too or unknown (a form that took one name only:
    'liv' / 'vandenheuvel liv'). False when no cross pair is known. -#}
{% macro names_swapped_within(left, right, distance) -%}
    {%- set first_last = edit_distance(left ~ '.first_name_key', right ~ '.last_name_key') -%}
    {%- set last_first = edit_distance(left ~ '.last_name_key', right ~ '.first_name_key') -%}
    (
        coalesce({{ first_last }} <= {{ distance }}, false) and coalesce({{ last_first }} <= {{ distance }}, true)
        or coalesce({{ last_first }} <= {{ distance }}, false) and coalesce({{ first_last }} <= {{ distance }}, true)
    )
{%- endmacro %}

{#- Two strings one typo apart: at most one character changed, added or dropped, or two adjacent
    characters transposed ('3129' / '3192'; positions checked up to `length`). Null when a side is
    missing; true when equal. -#}
{% macro within_one_typo(left, right, length, edits=none) -%}
    (
        {{ edits or edit_distance(left, right) }} <= 1
        {%- for position in range(1, length) %}
        or (
            substr({{ left }}, {{ position }}, 1) = substr({{ right }}, {{ position + 1 }}, 1)
            and substr({{ left }}, {{ position + 1 }}, 1) = substr({{ right }}, {{ position }}, 1)
            {%- if position > 1 %}
            and substr({{ left }}, 1, {{ position - 1 }}) = substr({{ right }}, 1, {{ position - 1 }})
            {%- endif %}
            and substr({{ left }}, {{ position + 2 }}) = substr({{ right }}, {{ position + 2 }})
        )
        {%- endfor %}
    )
{%- endmacro %}

{#- Two ISO birth dates (text 'YYYY-MM-DD') that are one typo apart: within_one_typo (1937 / 1973),
    or day and month swapped (an American form). Null when a side is missing. -#}
{% macro birth_dates_nearly_equal(left, right) -%}
    (
        {{ within_one_typo(left, right, 10) }}
        or (
            substr({{ left }}, 1, 4) = substr({{ right }}, 1, 4)
            and substr({{ left }}, 6, 2) = substr({{ right }}, 9, 2)
            and substr({{ left }}, 9, 2) = substr({{ right }}, 6, 2)
        )
    )
{%- endmacro %}

{#- Groups holding two records that conflict by the guard's rule: the distinct `keys` (a list of
    columns) of the relation `members`, one row per record in a group. `members` has record_key and
    the standardised name and birth-date keys, or, with `records`, only record_key and the keys, the
    attributes then read from `records`. Pairs in `force_merged` (record_key_l < record_key_r) are
    exempt. With `sizes` (the keys and record_count) only groups of 2..max_records records are
    searched: at most max^2 pairs each. Serves clusters (label), identifiers (type + value) and
    locations (address + postcode). -#}
{% macro groups_with_conflicts(members, keys, force_merged=none, sizes=none, max_records=none, records=none) -%}
    {%- set left_side = 'left_records' if records else 'left_members' %}
    {%- set right_side = 'right_records' if records else 'right_members' %}
    select distinct
        {%- for key in keys %}
        left_members.{{ key }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ members }} as left_members
    {%- if sizes %}
    inner join {{ sizes }}
        on
            {%- for key in keys %}
            {{ "and " if not loop.first }}left_members.{{ key }} = {{ sizes }}.{{ key }}
            {%- endfor %}
    {%- endif %}
    inner join {{ members }} as right_members
        on
            {%- for key in keys %}
            {{ "and " if not loop.first }}left_members.{{ key }} = right_members.{{ key }}
            {%- endfor %}
            and left_members.record_key < right_members.record_key
    {%- if records %}
    inner join {{ records }} as left_records
        on left_members.record_key = left_records.record_key
    inner join {{ records }} as right_records
        on right_members.record_key = right_records.record_key
    {%- endif %}
    {%- if force_merged %}
    left join {{ force_merged }}
        on
            left_members.record_key = {{ force_merged }}.record_key_l
            and right_members.record_key = {{ force_merged }}.record_key_r
    {%- endif %}
    where
        ({{ birth_dates_conflict(left_side, right_side) }} or {{ first_names_conflict(left_side, right_side) }})
        {%- if force_merged %}
        and {{ force_merged }}.record_key_l is null
        {%- endif %}
        {%- if sizes %}
        and {{ sizes }}.record_count between 2 and {{ max_records }}
        {%- endif %}
{%- endmacro %}

{#- Cluster labels (column `label` of `records`) holding both records of a pair in `pairs`. -#}
{% macro clusters_with_pair(records, label, pairs) -%}
    select distinct left_records.{{ label }}
    from {{ pairs }}
    inner join {{ records }} as left_records
        on {{ pairs }}.record_key_l = left_records.record_key
    inner join {{ records }} as right_records
        on {{ pairs }}.record_key_r = right_records.record_key
    where left_records.{{ label }} = right_records.{{ label }}
{%- endmacro %}
