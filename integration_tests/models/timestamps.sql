-- to_timestamp: which text is a timestamp, offsets applied, UTC otherwise
-- (docs/semantics-notes.md, "Is a timestamp").
select case_name,
       {{ signals_batch.to_timestamp('input') }} as actual,
       CAST(expected AS {{ signals_batch.sql_type('timestamp') }}) as expected
from {{ ref('timestamp_cases') }}
