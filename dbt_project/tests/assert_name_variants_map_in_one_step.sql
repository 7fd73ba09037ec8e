-- The seed name_variants is read with one lookup (int_identity_records_standardised): a canonical
-- name that is itself listed as a variant would leave two spellings of one name with different keys.
-- A row here = such a chain; map its variants to the end of the chain instead.
with

variants as (

    select * from {{ ref('name_variants') }}

),

final as (

    select
        variants.variant,
        variants.canonical,
        chained.canonical as chained_to
    from variants
    inner join variants as chained
        on variants.canonical = chained.variant

)

select * from final
