-- Contribution margin per customer as of run_date, for CLV as profit contribution (D67): one row per
-- customer with an order. Configured when var category_margin_rates ({category: rate}) or var
-- default_margin_rate is set; otherwise every margin is null and customer_clv stays on revenue.
-- The customer's lines of orders that count (not cancelled or refunded; returned lines are negative,
-- as in fct_orders.net_amount) weigh each category's rate by its net line amount:
--   margin_rate = sum(line_net_amount x rate) / sum(line_net_amount) over lines whose category has a
--   rate (a listed category, else default_margin_rate); lines without one are left out and reported
--   in unrated_net_amount. Customers whose rated lines net to <= 0 (only returns, only cancelled
--   orders) take the base's blended rate.
{%- set rates = var('category_margin_rates') or {} %}
{%- set default_rate = var('default_margin_rate', none) %}
{%- set configured = (rates | length > 0) or (default_rate is not none) %}
with

orders as (

    select * from {{ ref('fct_orders') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

customers as (

    select distinct customer_id
    from orders
    where customer_id is not null

),

customer_lines as (

    select
        orders.customer_id,
        order_lines.line_net_amount,
        cast(
            {% if rates | length > 0 -%}
            case order_lines.category
                {%- for category, rate in rates.items() | sort %}
                when '{{ category | replace("'", "''") }}' then {{ rate | float }}
                {%- endfor %}
                else {{ default_rate | float if default_rate is not none else 'null' }}
            end
            {%- else -%}
            {{ default_rate | float if default_rate is not none else 'null' }}
            {%- endif %} as double
        ) as margin_rate
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    where
        orders.customer_id is not null
        and orders.status not in ('cancelled', 'refunded')
        and {{ 'true' if configured else 'false' }}

),

customer_sums as (

    select
        customer_id,
        sum(case when margin_rate is not null then line_net_amount else 0 end) as rated_net_amount,
        sum(case when margin_rate is not null then line_net_amount * margin_rate else 0 end) as contribution_amount,
        sum(case when margin_rate is null then line_net_amount else 0 end) as unrated_net_amount
    from customer_lines
    group by customer_id

),

base_rate as (

    select
        {{ divide('sum(contribution_amount)', 'nullif(sum(rated_net_amount), 0)') }} as base_margin_rate
    from customer_sums
    where rated_net_amount > 0

),

final as (

    select
        customers.customer_id,
        {{ 'true' if configured else 'false' }} as is_margin_configured,
        case
            when customer_sums.rated_net_amount > 0
                then {{ divide('customer_sums.contribution_amount', 'customer_sums.rated_net_amount') }}
            else base_rate.base_margin_rate
        end as margin_rate,
        cast(coalesce(customer_sums.contribution_amount, 0) as decimal(18, 2)) as contribution_amount,
        cast(coalesce(customer_sums.unrated_net_amount, 0) as decimal(18, 2)) as unrated_net_amount
    from customers
    cross join base_rate
    left join customer_sums
        on customers.customer_id = customer_sums.customer_id

)

select * from final
