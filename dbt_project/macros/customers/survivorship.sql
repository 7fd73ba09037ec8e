{#-
    Survivorship of the golden record: which of a customer's records gives each attribute.
    The rules are declared in the var `survivorship_rules` (dbt_project.yml) and read at compile time,
    so the SQL of int_customer_attribute_values_survived is generated from them; a bad declaration
    (unknown attribute, rule or source, a priority list on the wrong rule) fails the compile with a
    message naming it. Plain Jinja and portable SQL (case expressions), no adapter-specific code.
-#}

{#- The golden record's attributes: name in the golden record -> column of int_identity_records_unioned
    (the names: that record's pair the way round the base writes them, named_first_name / named_last_name
    of int_customer_attribute_values_survived). -#}
{% macro survivorship_attributes() -%}
    {{ return({
        'first_name': 'named_first_name',
        'last_name': 'named_last_name',
        'gender': 'gender',
        'birth_date': 'birth_date',
        'email': 'email_normalized',
        'phone': 'phone_e164',
        'city': 'city',
        'postcode': 'postcode',
        'email_opt_in': 'email_opt_in',
        'sms_opt_in': 'sms_opt_in',
    }) }}
{%- endmacro %}

{#- The rules a declaration may name, and the sources a source_priority list may name. -#}
{% macro survivorship_rule_names() -%}
    {{ return(['most_recent', 'source_priority', 'most_frequent']) }}
{%- endmacro %}

{% macro survivorship_sources() -%}
    {{ return(['pos', 'ecommerce', 'social']) }}
{%- endmacro %}

{#-
    The validated rules: {attribute: {'rule': name, 'source_priority': [sources]}} for every attribute
    of survivorship_attributes(). An entry of the var is either a rule name (`email: most_recent`) or a
    mapping (`birth_date: {rule: source_priority, source_priority: [pos, ecommerce]}`); attributes the
    var does not list use most_recent.
-#}
{% macro survivorship_rules() -%}
    {%- set declared = var('survivorship_rules', {}) or {} -%}
    {%- set attributes = survivorship_attributes() -%}
    {%- if declared is not mapping -%}
        {{ exceptions.raise_compiler_error("var 'survivorship_rules' must be a mapping attribute -> rule") }}
    {%- endif -%}
    {%- for attribute in declared -%}
        {%- if attribute not in attributes -%}
            {{ exceptions.raise_compiler_error(
                "survivorship_rules: unknown attribute '" ~ attribute ~ "' (known: "
                ~ attributes.keys() | list | join(', ') ~ ")"
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set rules = {} -%}
    {%- for attribute in attributes -%}
        {%- set entry = declared.get(attribute, 'most_recent') -%}
        {%- set spec = entry if entry is mapping else {'rule': entry} -%}
        {%- set rule = spec.get('rule') -%}
        {%- set priority = spec.get('source_priority') or [] -%}
        {%- if rule not in survivorship_rule_names() -%}
            {{ exceptions.raise_compiler_error(
                "survivorship_rules." ~ attribute ~ ": unknown rule '" ~ rule ~ "' (one of "
                ~ survivorship_rule_names() | join(', ') ~ ")"
            ) }}
        {%- endif -%}
        {%- if priority is string -%}
            {%- set priority = [priority] -%}
        {%- endif -%}
        {%- if rule == 'source_priority' and priority | length == 0 -%}
            {{ exceptions.raise_compiler_error(
                "survivorship_rules." ~ attribute ~ ": rule source_priority needs a source_priority list"
            ) }}
        {%- endif -%}
        {%- if rule != 'source_priority' and priority | length > 0 -%}
            {{ exceptions.raise_compiler_error(
                "survivorship_rules." ~ attribute ~ ": source_priority is only used by rule source_priority"
            ) }}
        {%- endif -%}
        {%- for source in priority -%}
            {%- if source not in survivorship_sources() -%}
                {{ exceptions.raise_compiler_error(
                    "survivorship_rules." ~ attribute ~ ": unknown source '" ~ source ~ "' (one of "
                    ~ survivorship_sources() | join(', ') ~ ")"
                ) }}
            {%- endif -%}
        {%- endfor -%}
        {%- do rules.update({attribute: {'rule': rule, 'source_priority': priority}}) -%}
    {%- endfor -%}
    {{ return(rules) }}
{%- endmacro %}

{#- The rule of each row's attribute: case <attribute_column> when 'first_name' then 'most_frequent' ... end -#}
{% macro survivorship_rule_of(attribute_column) -%}
    case {{ attribute_column }}
        {%- for attribute, spec in survivorship_rules().items() %}
        when '{{ attribute }}' then '{{ spec.rule }}'
        {%- endfor %}
    end
{%- endmacro %}

{#-
    Rank of a row's source in its attribute's source_priority list (1 = most trusted); sources the
    list does not name come after every listed one; 0 for attributes on other rules.
-#}
{% macro survivorship_source_rank(attribute_column, source_column) -%}
    {%- set unlisted = survivorship_sources() | length + 1 -%}
    {%- set prioritised = [] -%}
    {%- for attribute, spec in survivorship_rules().items() if spec.rule == 'source_priority' -%}
        {%- do prioritised.append((attribute, spec.source_priority)) -%}
    {%- endfor -%}
    {%- if prioritised | length == 0 -%}
        0
    {%- else -%}
    case
        {%- for attribute, sources in prioritised %}
        {%- for source in sources %}
        when {{ attribute_column }} = '{{ attribute }}' and {{ source_column }} = '{{ source }}' then {{ loop.index }}
        {%- endfor %}
        when {{ attribute_column }} = '{{ attribute }}' then {{ unlisted }}
        {%- endfor %}
        else 0
    end
    {%- endif -%}
{%- endmacro %}
