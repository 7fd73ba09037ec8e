-- Birthday of every customer with a known birth date, as of run_date (D63): birth month and day, the
-- next birthday on or after run_date and whether it falls in run_date's month. Someone born on 29
-- February has their birthday on 28 February in a common year (adding whole years to the birth date
-- clamps to the month's last day on both engines; the interval is parenthesised because dbt-spark's
-- dateadd multiplies it by 12 as written). The day lives here and in restricted only;
-- customer_360 gets the month (pii_form: reduced) and is_birthday_this_month.
with

attributes as (

    select * from {{ ref('int_customer_attributes_survived') }}

),

born as (

    select
        customer_id,
        birth_date,
        cast(extract(year from birth_date) as {{ dbt.type_int() }}) as birth_year,
        cast(extract(month from birth_date) as {{ dbt.type_int() }}) as birth_month,
        cast(extract(day from birth_date) as {{ dbt.type_int() }}) as birth_day,
        cast(extract(year from {{ run_date_literal() }}) as {{ dbt.type_int() }}) as run_year
    from attributes
    where birth_date is not null and birth_date <= {{ run_date_literal() }}

),

this_year as (

    select
        customer_id,
        birth_date,
        birth_year,
        birth_month,
        birth_day,
        run_year,
        cast({{ dbt.dateadd('year', '(run_year - birth_year)', 'birth_date') }} as date) as birthday_this_year
    from born

),

final as (

    select
        customer_id,
        birth_month,
        birth_day,
        case
            when birthday_this_year >= {{ run_date_literal() }} then birthday_this_year
            else cast({{ dbt.dateadd('year', '(run_year - birth_year + 1)', 'birth_date') }} as date)
        end as next_birthday_date,
        birth_month = cast(extract(month from {{ run_date_literal() }}) as {{ dbt.type_int() }})
            as is_birthday_this_month
    from this_year

)

select * from final
