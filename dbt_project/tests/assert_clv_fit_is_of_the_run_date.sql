-- The CLV models read the fit of their run date, which the pipeline's clv:fit stage writes between
-- the two halves of the build (cdp.warehouse; `cdp run`). A plain `dbt build` does not fit: without
-- this test it would build CLV and the value marts from another night's fit (or from none) and pass.
-- A row here = no fit for run_date: build with cdp.warehouse.build or `cdp run`, not dbt alone.
with

fits as (

    select * from {{ ref('stg_clv_fit__model_fits') }}

),

fits_of_the_run_date as (

    select count(*) as fit_count
    from fits
    where run_date = {{ run_date_literal() }}

),

final as (

    select
        'no CLV fit for the run date: the fit runs in cdp run (stage clv:fit), not in a plain dbt build'
            as problem
    from fits_of_the_run_date
    where fit_count = 0

)

select * from final
