-- to_bool: `true` / `false` in any case, anything else NULL (docs/semantics-notes.md).
select case_name,
       {{ signals_batch.to_bool('input') }} as actual,
       CAST(expected AS BOOLEAN) as expected
from {{ ref('bool_cases') }}
