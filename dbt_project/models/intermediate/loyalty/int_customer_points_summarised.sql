-- Points balance and next expiry per customer as of run_date, from the POS ledger (D61).
-- Balance: the sum of every entry's signed points (what the tills say the member holds).
-- Expiry: every earn entry is a lot that lapses after its expires_on. Points taken away (redeemed,
-- returned, expired) use the lots in expiry order (first to expire, first used), per card: a lot's
-- remaining points are its points minus what the debits of its card have not used up on earlier lots.
-- The next expiry is the earliest expires_on on or after run_date of a lot with points left, and
-- next_expiring_points what is left of the lots expiring that day (over all the customer's cards).
with

entries as (

    select * from {{ ref('int_pos_points_entries_deduplicated') }}

),

resolved as (

    select * from {{ ref('int_identity_records_resolved') }}

),

card_debits as (

    select
        record_key,
        sum(case when entry_type <> 'earn' then points else 0 end) as debited_points,
        sum(points_delta) as balance
    from entries
    group by record_key

),

lots as (

    select
        entries.record_key,
        entries.expires_on,
        entries.points,
        sum(entries.points) over (
            partition by entries.record_key
            order by entries.expires_on, entries.booked_at, entries.entry_id
            rows between unbounded preceding and current row
        ) as cumulative_points
    from entries
    where entries.entry_type = 'earn' and entries.expires_on is not null

),

lots_left as (

    select
        lots.record_key,
        lots.expires_on,
        case
            when lots.cumulative_points - card_debits.debited_points <= 0 then 0
            when lots.cumulative_points - card_debits.debited_points >= lots.points then lots.points
            else lots.cumulative_points - card_debits.debited_points
        end as points_left
    from lots
    inner join card_debits
        on lots.record_key = card_debits.record_key

),

customer_cards as (

    select
        resolved.customer_id,
        card_debits.record_key,
        card_debits.balance
    from card_debits
    inner join resolved
        on card_debits.record_key = resolved.record_key

),

balances as (

    select
        customer_id,
        sum(balance) as points_balance,
        count(*) as card_count
    from customer_cards
    group by customer_id

),

upcoming as (

    select
        customer_cards.customer_id,
        lots_left.expires_on,
        lots_left.points_left
    from lots_left
    inner join customer_cards
        on lots_left.record_key = customer_cards.record_key
    where lots_left.points_left > 0 and lots_left.expires_on >= {{ run_date_literal() }}

),

next_expiry as (

    select
        customer_id,
        min(expires_on) as next_points_expiry_date
    from upcoming
    group by customer_id

),

next_expiring as (

    select
        upcoming.customer_id,
        sum(upcoming.points_left) as next_expiring_points
    from upcoming
    inner join next_expiry
        on
            upcoming.customer_id = next_expiry.customer_id
            and upcoming.expires_on = next_expiry.next_points_expiry_date
    group by upcoming.customer_id

),

final as (

    select
        balances.customer_id,
        cast(balances.points_balance as {{ dbt.type_int() }}) as points_balance,
        next_expiry.next_points_expiry_date,
        cast(next_expiring.next_expiring_points as {{ dbt.type_int() }}) as next_expiring_points,
        cast(balances.card_count as {{ dbt.type_int() }}) as card_count
    from balances
    left join next_expiry
        on balances.customer_id = next_expiry.customer_id
    left join next_expiring
        on balances.customer_id = next_expiring.customer_id

)

select * from final
